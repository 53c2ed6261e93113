"""scikit-learn's embedded 8x8 digits, as uint8 images with a fixed train/test split.

The data ships with scikit-learn, so it needs no download and makes the quick default for demos and tests.
It has no test split of its own; ours is fixed and stratified: within each class, in file order, every
fifth image (positions 4, 9, 14, ...) is a test image, the other four are training images (80/20).
It uses no random numbers, so it is the same on every machine and every numpy version.
"""

from __future__ import annotations

import numpy as np

from .dataset import ImageDataset

TEST_EVERY = 5  # one test image in every five of a class


def load_digits(name: str = "digits") -> ImageDataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Pixel values are 0..16; scale to the 0..255 of every other image dataset.
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    is_test = _every_nth_of_each_class(labels, TEST_EVERY)
    return ImageDataset(
        name,
        np.ascontiguousarray(images[~is_test]),
        labels[~is_test],
        np.ascontiguousarray(images[is_test]),
        labels[is_test],
        len(bunch.target_names),
        tuple(str(t) for t in bunch.target_names),
    )


def _every_nth_of_each_class(labels: np.ndarray, n: int) -> np.ndarray:
    """Mask of the n-th, 2n-th, ... occurrence of each label, in order."""
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        mask[where[n - 1 :: n]] = True
    return mask
