"""The raw image dataset every loader returns, and the label check every reader shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError

#: Pixel types a dataset may hold: bytes as stored by image files, or a user's float arrays kept as given
#: (training normalises by the training part's statistics, so their scale does not matter).
PIXEL_TYPES = (np.dtype(np.uint8), np.dtype(np.float32))


@dataclass(frozen=True)
class ImageDataset:
    """A whole dataset as stored: images (N, C, H, W) of PIXEL_TYPES and int64 labels, train and test parts.

    ``class_names`` (one per class; ``"0"``, ``"1"``, ... where the source names none) travel with a trained
    model, so its outputs can be read without the dataset. The arrays are made read-only because loaded
    datasets are cached and shared by every trial in a process.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    n_classes: int
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for x, y in ((self.train_x, self.train_y), (self.test_x, self.test_y)):
            if x.dtype not in PIXEL_TYPES or x.ndim != 4 or y.dtype != np.int64 or y.shape != (len(x),):
                raise ValueError(f"{self.name}: images must be uint8 or float32 NCHW, labels int64 of the same length")
        if self.train_x.shape[1:] != self.test_x.shape[1:] or self.train_x.dtype != self.test_x.dtype:
            raise ValueError(f"{self.name}: train and test images differ in shape or type")
        if not self.class_names:
            object.__setattr__(self, "class_names", numbered_classes(self.n_classes))
        if len(self.class_names) != self.n_classes or not all(isinstance(c, str) for c in self.class_names):
            raise ValueError(f"{self.name}: {len(self.class_names)} class names for {self.n_classes} classes")
        object.__setattr__(self, "class_names", tuple(self.class_names))
        for array in (self.train_x, self.train_y, self.test_x, self.test_y):
            array.setflags(write=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)


def numbered_classes(n_classes: int) -> tuple[str, ...]:
    """Names for classes a source does not name: their ids."""
    return tuple(str(i) for i in range(n_classes))


def checked_labels(labels: np.ndarray, n_classes: int, path: Path) -> np.ndarray:
    """Labels as int64, or a one-line error naming the file when one lies outside 0..n_classes-1."""
    labels = labels.astype(np.int64)
    bad = labels[(labels < 0) | (labels >= n_classes)]
    if bad.size:
        raise DatasetMissingError(
            f"{path} is corrupt: label {int(bad[0])} is outside 0..{n_classes - 1}; replace the file with a fresh copy"
        )
    return labels
