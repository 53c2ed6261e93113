"""Fashion-MNIST from a directory of its four IDX files, as Debian's dataset-fashion-mnist installs them, and
the small subset of it shipped inside the package (``fashion-mnist-mini``, see the README beside its files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError
from .dataset import ImageDataset, checked_labels
from .idx import read_idx, write_idx

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MINI_DIR = Path(__file__).with_name("fashion_mnist_mini")
#: Images of each class in the shipped subset: 600 training ones hold the paper's 5,000 + 1,000 proxy.
MINI_TRAIN_PER_CLASS, MINI_TEST_PER_CLASS = 600, 200
INSTALL_HINT = "install the Debian package dataset-fashion-mnist (`make datasets`)"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")
_PARTS = {"train": "train", "test": "t10k"}  # file prefixes


def load_fashion_mnist(directory: Path, name: str) -> ImageDataset:
    """Read train and t10k images and labels from ``directory`` (each file plain or ``.gz``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetMissingError(
            f"Fashion-MNIST directory {directory} does not exist: {INSTALL_HINT}, or pass fashion-mnist:DIR"
        )
    train_x, train_y = _read_part(directory, _PARTS["train"])
    test_x, test_y = _read_part(directory, _PARTS["test"])
    return ImageDataset(name, train_x, train_y, test_x, test_y, len(CLASS_NAMES), CLASS_NAMES)


def write_subset(
    dataset: ImageDataset, directory: Path, train_per_class: int = MINI_TRAIN_PER_CLASS,
    test_per_class: int = MINI_TEST_PER_CLASS,
) -> None:
    """Write the first ``train_per_class`` / ``test_per_class`` images of every class (in file order, which
    Fashion-MNIST already shuffled) as the four gzipped IDX files: how the shipped subset was made."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for part, (x, y, per_class) in {"train": (dataset.train_x, dataset.train_y, train_per_class),
                                    "test": (dataset.test_x, dataset.test_y, test_per_class)}.items():
        keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(dataset.n_classes)]))
        write_idx(directory / f"{_PARTS[part]}-images-idx3-ubyte.gz", x[keep, 0])
        write_idx(directory / f"{_PARTS[part]}-labels-idx1-ubyte.gz", y[keep].astype(np.uint8))


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
    return np.ascontiguousarray(images[:, None]), checked_labels(labels, len(CLASS_NAMES), labels_path)


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetMissingError(
        f"Fashion-MNIST file {stem}[.gz] is missing from {directory}: {INSTALL_HINT}, or pass fashion-mnist:DIR"
    )
