"""Class-balanced proxy splits, drawn from the training images only.

The AutoShrink authors validated proxy candidates on test images; this project holds validation images
back from the training set instead, so the test set stays unseen until the final evaluation.
"""

from __future__ import annotations

import numpy as np

from ..errors import BadInputError


def per_class_counts(total: int, n_classes: int) -> np.ndarray:
    """``total`` spread evenly over classes; the remainder goes one each to the lowest class ids."""
    counts = np.full(n_classes, total // n_classes, dtype=np.int64)
    counts[: total % n_classes] += 1
    return counts


def balanced_split(labels: np.ndarray, n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, sorted index arrays of ``n_train`` and ``n_val`` images, equal per class within one.

    The same labels and seed always give the same split; each class's images are shuffled once with the
    seed and the train part is taken first, then the val part.
    """
    if n_train < 0 or n_val < 0:
        raise BadInputError(f"proxy sizes must not be negative (train {n_train}, val {n_val})")
    labels = np.asarray(labels)
    classes, available = np.unique(labels, return_counts=True)
    train_counts = per_class_counts(n_train, len(classes))
    val_counts = per_class_counts(n_val, len(classes))
    needed = train_counts + val_counts
    short = np.flatnonzero(available < needed)
    if short.size:
        worst = short[np.argmin(available[short])]
        raise BadInputError(
            f"the training set has only {available[worst]} images of class {classes[worst]}, but a proxy of "
            f"{n_train} train + {n_val} val needs {needed[worst]} per class; lower the proxy size"
        )
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for label, n_t, n_v in zip(classes, train_counts, val_counts):
        members = rng.permutation(np.flatnonzero(labels == label))
        train_parts.append(members[:n_t])
        val_parts.append(members[n_t : n_t + n_v])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts))


def two_way_split(labels: np.ndarray, ratio: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, sorted index arrays splitting every image in ``ratio`` (x : y), class by class.

    DSO-NAS trains weights on the first part and structure on the second (CIFAR 1:1, ImageNet 4:1). Each class's
    images are shuffled once with the seed and split at round(count * x / (x + y)); the same labels and seed always
    give the same split.
    """
    x, y = ratio
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    first, second = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * x / (x + y)))
        first.append(members[:cut])
        second.append(members[cut:])
    first_idx, second_idx = np.sort(np.concatenate(first)), np.sort(np.concatenate(second))
    if not len(first_idx) or not len(second_idx):
        raise BadInputError(f"a {x}:{y} split of {len(labels)} images leaves one part empty; use more images or a "
                            "more even ratio")
    return first_idx, second_idx
