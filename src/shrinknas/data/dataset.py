"""The raw image dataset every loader returns, and the label check every reader shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError


@dataclass(frozen=True)
class ImageDataset:
    """A whole dataset as stored: uint8 images (N, C, H, W) and int64 labels, train and test parts.

    The arrays are made read-only because loaded datasets are cached and shared by every trial in a process.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        for x, y in ((self.train_x, self.train_y), (self.test_x, self.test_y)):
            if x.dtype != np.uint8 or x.ndim != 4 or y.dtype != np.int64 or y.shape != (len(x),):
                raise ValueError(f"{self.name}: images must be uint8 NCHW and labels int64 of the same length")
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise ValueError(f"{self.name}: train and test images differ in shape")
        for array in (self.train_x, self.train_y, self.test_x, self.test_y):
            array.setflags(write=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)


def checked_labels(labels: np.ndarray, n_classes: int, path: Path) -> np.ndarray:
    """Labels as int64, or a one-line error naming the file when one lies outside 0..n_classes-1."""
    labels = labels.astype(np.int64)
    bad = labels[(labels < 0) | (labels >= n_classes)]
    if bad.size:
        raise DatasetMissingError(
            f"{path} is corrupt: label {int(bad[0])} is outside 0..{n_classes - 1}; replace the file with a fresh copy"
        )
    return labels
