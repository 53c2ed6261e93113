"""A user's own images in class folders, decoded with Pillow: ``DIR/<class>/<image>``.

Layout: every sub-folder of DIR is a class (sorted names give the class ids) holding its images directly.
Where DIR holds ``train/`` and ``test/``, each is such a folder of class folders and gives that part (other
sub-folders, a ``val/`` say, are then not read; the search holds its validation images back from train/);
else a seeded, stratified fifth of every class is held out as the test part. Files whose suffix Pillow does not
know are skipped (a README, a thumbnail cache); a file with an image suffix that does not decode is an error,
since silently dropping it would change the dataset.

Images are grey (1 channel) when every one is (Pillow modes 1, L, LA, I, F), else all are converted to RGB.
They are resized (bilinear, aspect ratio not kept) to the size given, or left alone when all share one
size; mixed sizes without a given size are an error rather than a guess, since the most common size of a
folder of photos can be far too large to train on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetMissingError
from .dataset import ImageDataset
from .splits import HELD_OUT_EVERY, held_out_split

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_PARTS = ("train", "test")


@dataclass(frozen=True)
class _Part:
    """One part's image files, and the class id of each."""

    files: tuple[Path, ...]
    labels: np.ndarray


def load_image_folder(directory: Path, size: tuple[int, int] | None, name: str) -> ImageDataset:
    """The dataset in ``directory`` (layout above), every image ``size`` (H, W) if given."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetMissingError(f"image folder {directory} does not exist; give a folder of class folders")
    has = [(directory / part).is_dir() for part in _PARTS]
    if any(has) and not all(has):
        present, absent = _PARTS if has[0] else _PARTS[::-1]
        raise DatasetMissingError(
            f"{directory} has {present}/ but no {absent}/: add {directory / absent} with the same class folders, "
            f"or put the class folders directly in {directory}"
        )
    if all(has):
        classes = _class_folders(directory / "train")
        train = _collect(directory / "train", classes)
        test = _collect(directory / "test", classes, subset=True)
    else:
        classes = _class_folders(directory)
        whole = _collect(directory, classes)
        train_idx, test_idx = held_out_split(whole.labels)
        if not test_idx.size:
            raise DatasetMissingError(
                f"{directory} has too few images to hold out a test part (a class needs {HELD_OUT_EVERY}); add "
                f"images, or give {directory / 'train'} and {directory / 'test'}"
            )
        train, test = (_Part(tuple(whole.files[i] for i in idx), whole.labels[idx]) for idx in (train_idx, test_idx))
    channels, size = _common_format(train.files + test.files, size, directory)
    return ImageDataset(
        name, _decode(train.files, channels, size), train.labels, _decode(test.files, channels, size), test.labels,
        len(classes), tuple(classes),
    )


def _class_folders(directory: Path) -> list[str]:
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetMissingError(
            f"{directory} holds no class folders: put each class's images in a sub-folder named after the class"
        )
    return classes


def _collect(directory: Path, classes: list[str], subset: bool = False) -> _Part:
    """Image files of each class folder of ``directory``; with ``subset``, a part may lack classes but not add any."""
    present = _class_folders(directory) if subset else classes
    extra = sorted(set(present) - set(classes))
    if extra:
        raise DatasetMissingError(f"{directory / extra[0]} is a class the training part lacks; add it to train/ too")
    files: list[Path] = []
    labels: list[int] = []
    for name in present:
        found = sorted(p for p in (directory / name).iterdir() if p.is_file() and _is_image_name(p))
        if not found:
            raise DatasetMissingError(f"class folder {directory / name} holds no images")
        files += found
        labels += [classes.index(name)] * len(found)
    return _Part(tuple(files), np.array(labels, dtype=np.int64))


def _is_image_name(path: Path) -> bool:
    from PIL import Image

    return not path.name.startswith(".") and path.suffix.lower() in Image.registered_extensions()


def _common_format(
    files: tuple[Path, ...], size: tuple[int, int] | None, directory: Path
) -> tuple[int, tuple[int, int]]:
    """Channels (1 if every image is grey, else 3) and the (H, W) every image gets, from the files' headers."""
    modes, sizes = set(), set()
    for path in files:
        with _opened(path) as image:
            modes.add(image.mode)
            sizes.add((image.height, image.width))
    channels = 1 if modes <= _GREY_MODES else 3
    if size is None:
        if len(sizes) > 1:
            (h1, w1), (h2, w2) = sorted(sizes)[:2]
            raise DatasetMissingError(
                f"images in {directory} differ in size ({h1}x{w1}, {h2}x{w2}, ...): give the size to resize them "
                f"to as folder:{directory}@HxW (height x width), e.g. @32x32"
            )
        size = next(iter(sizes))
    log.info("%s: %d images as %d-channel %dx%d", directory, len(files), channels, *size)
    return channels, size


def _decode(files: tuple[Path, ...], channels: int, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    height, width = size
    images = np.empty((len(files), channels, height, width), dtype=np.uint8)
    for i, path in enumerate(files):
        with _opened(path) as image:
            try:
                pixels = image.convert("L" if channels == 1 else "RGB")
                if pixels.size != (width, height):
                    pixels = pixels.resize((width, height), Image.Resampling.BILINEAR)
                array = np.asarray(pixels)
            except (OSError, SyntaxError, ValueError) as exc:
                raise DatasetMissingError(f"cannot decode image {path}: {exc}; replace or remove it") from None
        images[i] = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return images


@contextmanager
def _opened(path: Path) -> Iterator["Image.Image"]:
    """``Image.open`` whose failures are one-line DatasetMissingErrors naming the file."""
    from PIL import Image

    try:
        image = Image.open(path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetMissingError(f"cannot read image {path}: {exc}; replace or remove it") from None
    with image:
        yield image
