"""CIFAR-10 and CIFAR-100 in their binary versions: fixed-size records of label byte(s) + 3072 image bytes.

One reader serves both; a CifarLayout says where the files are and which label byte to keep. The python
versions of these datasets are pickles and are refused, because unpickling a downloaded file can run code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError
from .dataset import ImageDataset, checked_labels, numbered_classes

log = logging.getLogger(__name__)

_IMAGE_SHAPE = (3, 32, 32)
_IMAGE_BYTES = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant keeps its files and how its records are laid out."""

    title: str
    subdir: str  # the folder the official archive unpacks to
    archive: str  # the official binary archive's file name, named in error messages
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_bytes: int  # label bytes before each image
    label_index: int  # which of them is the label used
    n_classes: int
    python_markers: tuple[str, ...]  # names that only the (unsupported) python version has
    names_file: str  # the binary version's text file of class names, one a line

    @property
    def record_bytes(self) -> int:
        return self.label_bytes + _IMAGE_BYTES


CIFAR10 = CifarLayout(
    title="CIFAR-10",
    subdir="cifar-10-batches-bin",
    archive="cifar-10-binary.tar.gz",
    train_files=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    test_files=("test_batch.bin",),
    label_bytes=1,
    label_index=0,
    n_classes=10,
    python_markers=("cifar-10-batches-py", "batches.meta"),
    names_file="batches.meta.txt",
)

CIFAR100 = CifarLayout(
    title="CIFAR-100",
    subdir="cifar-100-binary",
    archive="cifar-100-binary.tar.gz",
    train_files=("train.bin",),
    test_files=("test.bin",),
    label_bytes=2,
    label_index=1,  # the fine label (100 classes); byte 0 is the coarse one (20 superclasses)
    n_classes=100,
    python_markers=("cifar-100-python", "meta"),
    names_file="fine_label_names.txt",
)


def load_cifar(directory: Path, layout: CifarLayout, name: str) -> ImageDataset:
    """Read a CIFAR binary dataset from ``directory`` or from its unpacked subfolder there."""
    root = _locate(Path(directory), layout)
    train_x, train_y = _read_files(root, layout.train_files, layout)
    test_x, test_y = _read_files(root, layout.test_files, layout)
    return ImageDataset(name, train_x, train_y, test_x, test_y, layout.n_classes, _class_names(root, layout))


def _class_names(root: Path, layout: CifarLayout) -> tuple[str, ...]:
    """The names in the archive's text file; class ids where it is absent or does not name every class (names
    only label outputs, so a damaged file is no reason to refuse the images)."""
    path = root / layout.names_file
    try:
        names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    except (OSError, UnicodeDecodeError):
        return numbered_classes(layout.n_classes)
    if len(names) != layout.n_classes:
        log.warning("%s names %d classes, not %d: classes are numbered instead", path, len(names), layout.n_classes)
        return numbered_classes(layout.n_classes)
    return names


def _locate(directory: Path, layout: CifarLayout) -> Path:
    first = layout.train_files[0]
    for root in (directory, directory / layout.subdir):
        if (root / first).is_file():
            return root
    if any((directory / marker).exists() for marker in layout.python_markers):
        raise DatasetMissingError(
            f"{directory} holds the python (pickled) version of {layout.title}, which is not supported because "
            f"loading it would unpickle; unpack the binary version ({layout.archive}) there instead"
        )
    raise DatasetMissingError(
        f"no {layout.title} binary files ({first}, ...) in {directory} or {directory / layout.subdir}: "
        f"unpack {layout.archive} there"
    )


def _read_files(root: Path, names: tuple[str, ...], layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    parts = [_read_records(root / name, layout) for name in names]
    images = np.concatenate([x for x, _ in parts])
    labels = np.concatenate([y for _, y in parts])
    return images, labels


def _read_records(path: Path, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetMissingError(f"{layout.title} file {path} is missing: unpack {layout.archive} again") from None
    except OSError as exc:
        raise DatasetMissingError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data.size == 0 or data.size % layout.record_bytes:
        raise DatasetMissingError(
            f"{path} is truncated or not a {layout.title} binary file ({data.size} bytes is not a whole number "
            f"of {layout.record_bytes}-byte records); unpack {layout.archive} again"
        )
    records = data.reshape(-1, layout.record_bytes)
    labels = checked_labels(records[:, layout.label_index], layout.n_classes, path)
    images = records[:, layout.label_bytes :].reshape(-1, *_IMAGE_SHAPE)
    return images, labels
