"""Fashion-MNIST from a directory of its four IDX files, as Debian's dataset-fashion-mnist installs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError
from .dataset import ImageDataset, checked_labels
from .idx import read_idx

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "install the Debian package dataset-fashion-mnist (`make datasets`)"
_N_CLASSES = 10


def load_fashion_mnist(directory: Path, name: str) -> ImageDataset:
    """Read train and t10k images and labels from ``directory`` (each file plain or ``.gz``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetMissingError(
            f"Fashion-MNIST directory {directory} does not exist: {INSTALL_HINT}, or pass fashion-mnist:DIR"
        )
    train_x, train_y = _read_part(directory, "train")
    test_x, test_y = _read_part(directory, "t10k")
    return ImageDataset(name, train_x, train_y, test_x, test_y, _N_CLASSES)


def _read_part(directory: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find(directory, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(directory, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DatasetMissingError(f"{images_path} does not hold uint8 images (N, H, W); replace it with a fresh copy")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetMissingError(
            f"{labels_path} does not hold one label per image of {images_path.name}; replace it with a fresh copy"
        )
    return np.ascontiguousarray(images[:, None]), checked_labels(labels, _N_CLASSES, labels_path)


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetMissingError(
        f"Fashion-MNIST file {stem}[.gz] is missing from {directory}: {INSTALL_HINT}, or pass fashion-mnist:DIR"
    )
