"""A user's own arrays in one ``.npz`` file (``numpy.savez``): the quickest way to bring data already in memory.

Arrays: ``x`` (N, C, H, W) or (N, H, W) images, uint8 or float (floats are kept as float32, not rescaled:
training normalises by the training part's own statistics); ``y`` (N,) integer labels; optionally ``x_test``
and ``y_test`` (else a seeded, stratified fifth of every class is held out as the test part) and
``class_names`` (strings, one per class; else the classes are 0 .. max label). The file is read without
unpickling, so names must be a string array (``np.array(names, dtype=str)``), not a list of objects.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError
from .dataset import ImageDataset
from .splits import HELD_OUT_EVERY, held_out_split

_REQUIRED = ("x", "y")
_OPTIONAL = ("x_test", "y_test", "class_names")
_CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: a last axis this long after two long ones is channels-last


def load_npz(path: Path, name: str) -> ImageDataset:
    """The dataset stored in the ``.npz`` file at ``path`` (layout above)."""
    path = Path(path)
    arrays = _read_arrays(path)
    x = _images(arrays["x"], path, "x")
    y = _labels(arrays["y"], len(x), path, "y")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DatasetMissingError(f"{path} has only one of x_test and y_test; save both, or neither")
    if "x_test" in arrays:
        test_x = _images(arrays["x_test"], path, "x_test")
        test_y = _labels(arrays["y_test"], len(test_x), path, "y_test")
        if test_x.shape[1:] != x.shape[1:]:
            raise DatasetMissingError(f"{path}: x_test images are {test_x.shape[1:]}, x images {x.shape[1:]}")
    else:
        train_idx, test_idx = held_out_split(y)
        if not test_idx.size:
            raise DatasetMissingError(
                f"{path} has too few images to hold out a test part (a class needs {HELD_OUT_EVERY}); "
                "add images, or save x_test and y_test"
            )
        x, test_x, y, test_y = x[train_idx], x[test_idx], y[train_idx], y[test_idx]
    if x.dtype != test_x.dtype:  # one of them float: both are
        x, test_x = x.astype(np.float32), test_x.astype(np.float32)
    names = _class_names(arrays, path)
    n_classes = len(names) if names else int(max(y.max(), test_y.max(initial=0))) + 1
    for key, labels in (("y", y), ("y_test", test_y)):
        if labels.size and labels.max() >= n_classes:
            raise DatasetMissingError(
                f"{path}: label {int(labels.max())} in {key} is outside 0..{n_classes - 1} "
                f"(class_names names {n_classes} classes)"
            )
    return ImageDataset(name, np.ascontiguousarray(x), y, np.ascontiguousarray(test_x), test_y, n_classes, names)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DatasetMissingError(f"npz file {path} does not exist")
    try:
        stored = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetMissingError(f"cannot read {path} as an .npz archive: {exc}") from None
    except ValueError:  # neither npy nor npz: numpy would unpickle it, which allow_pickle=False refuses
        raise DatasetMissingError(f"{path} is not an .npz archive; save the arrays with np.savez") from None
    if not isinstance(stored, np.lib.npyio.NpzFile):
        raise DatasetMissingError(f"{path} holds one array, not an .npz archive: save x and y with np.savez")
    with stored:
        keys = set(stored.files)
        missing, unknown = [k for k in _REQUIRED if k not in keys], sorted(keys - {*_REQUIRED, *_OPTIONAL})
        if missing or unknown:
            problem = f"lacks array {missing[0]}" if missing else f"holds array {unknown[0]!r}, which is not read"
            raise DatasetMissingError(
                f"{path} {problem}; an npz dataset holds {', '.join(_REQUIRED)} and optionally {', '.join(_OPTIONAL)}"
            )
        return {key: _array(stored, key, path) for key in keys}


def _array(stored: "np.lib.npyio.NpzFile", key: str, path: Path) -> np.ndarray:
    try:
        return stored[key]
    except ValueError:  # an object array: loading it would unpickle
        raise DatasetMissingError(
            f"{path}: array {key} holds Python objects, which are not loaded (that would unpickle); save numbers, "
            "and names as np.array(names, dtype=str)"
        ) from None


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """NCHW uint8, or float32 for float input; integer pixels must be 0..255."""
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise DatasetMissingError(
            f"{path}: {key} is a {x.ndim}-D array {x.shape}; save images as N x C x H x W or N x H x W"
        )
    if x.shape[-1] in _CHANNEL_COUNTS and min(x.shape[1:3]) > max(_CHANNEL_COUNTS):
        raise DatasetMissingError(
            f"{path}: {key} {x.shape} looks channels-last (N, H, W, C); save it as N x C x H x W "
            "(np.transpose(x, (0, 3, 1, 2)))"
        )
    if not len(x) or 0 in x.shape:
        raise DatasetMissingError(f"{path}: {key} {x.shape} holds no images")
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DatasetMissingError(f"{path}: {key} holds NaN or infinite pixels")
        return x.astype(np.float32)
    if not np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        raise DatasetMissingError(f"{path}: {key} is {x.dtype}; save images as uint8 or float")
    if x.dtype != np.uint8 and (x.min() < 0 or x.max() > 255):
        raise DatasetMissingError(f"{path}: {key} has integer pixels outside 0..255; save uint8, or floats")
    return x.astype(np.uint8)


def _labels(y: np.ndarray, n_images: int, path: Path, key: str) -> np.ndarray:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DatasetMissingError(f"{path}: {key} must be one integer label per image, got {y.dtype} {y.shape}")
    if len(y) != n_images:
        raise DatasetMissingError(f"{path}: {key} has {len(y)} labels for {n_images} images")
    if y.size and y.min() < 0:
        raise DatasetMissingError(f"{path}: {key} has the negative label {int(y.min())}; labels are 0, 1, 2, ...")
    return y.astype(np.int64)


def _class_names(arrays: dict[str, np.ndarray], path: Path) -> tuple[str, ...]:
    if "class_names" not in arrays:
        return ()
    names = arrays["class_names"]
    if names.ndim != 1 or names.dtype.kind not in "US" or not names.size:
        raise DatasetMissingError(
            f"{path}: class_names must be a 1-D array of strings, got {names.dtype} {names.shape}"
        )
    decoded = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist())
    if len(set(decoded)) != len(decoded):
        raise DatasetMissingError(f"{path}: class_names repeats a name; give each class its own")
    return decoded
