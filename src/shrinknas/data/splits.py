"""Class-balanced proxy splits, drawn from the training images only, and the held-out test part of a dataset
that brings none.

The AutoShrink authors validated proxy candidates on test images; this project holds validation images
back from the training set instead, so the test set stays unseen until the final evaluation.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import BadInputError

#: The paper's proxy: 5,000 training and 1,000 validation images, class-balanced.
PAPER_PROXY = (5000, 1000)
#: The smallest proxy part a search accepts (the settings' lower bound).
MIN_PROXY_PART = 10
#: A dataset without a test part holds back this share of every class as its test part.
HELD_OUT_EVERY = 5
#: The seed of that split: fixed, so a dataset's test part never changes with a search's seed.
HELD_OUT_SEED = 0


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
    first, second = [], []
    for members in _shuffled_by_class(labels, seed):
        cut = int(round(len(members) * x / (x + y)))
        first.append(members[:cut])
        second.append(members[cut:])
    first_idx, second_idx = np.sort(np.concatenate(first)), np.sort(np.concatenate(second))
    if not len(first_idx) or not len(second_idx):
        raise BadInputError(f"a {x}:{y} split of {len(labels)} images leaves one part empty; use more images or a "
                            "more even ratio")
    return first_idx, second_idx


def largest_balanced_proxy(
    labels: np.ndarray, n_train: int = PAPER_PROXY[0], n_val: int = PAPER_PROXY[1]
) -> tuple[int, int]:
    """``(n_train, n_val)`` where the labels hold that split class-balanced, else the largest one they hold with
    equal counts per class at the same train:val ratio (5:1 for the paper's), so a small dataset still runs
    with the paper's proportions instead of failing."""
    labels = np.asarray(labels)
    classes, available = np.unique(labels, return_counts=True)
    needed = per_class_counts(n_train, len(classes)) + per_class_counts(n_val, len(classes))
    if np.all(available >= needed):
        return n_train, n_val
    common = math.gcd(n_train, n_val)
    unit_train, unit_val = n_train // common, n_val // common  # 5 and 1 for 5,000 / 1,000
    smallest = int(available.min())
    units = smallest // (unit_train + unit_val)  # per class
    sizes = units * unit_train * len(classes), units * unit_val * len(classes)
    if min(sizes) < MIN_PROXY_PART:
        need = math.ceil(MIN_PROXY_PART / (min(unit_train, unit_val) * len(classes))) * (unit_train + unit_val)
        raise BadInputError(
            f"the training set has only {smallest} images of class {classes[np.argmin(available)]}, too few for a "
            f"class-balanced proxy of at least {MIN_PROXY_PART} validation images ({need} per class); add images"
        )
    return sizes


def held_out_split(
    labels: np.ndarray, every: int = HELD_OUT_EVERY, seed: int = HELD_OUT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices: ``1 / every`` of each class (rounded down) drawn with ``seed`` as the test part.

    Stratified, so the test part has the training part's class balance; seeded, so file order (often capture
    order) does not decide it.
    """
    test_parts = [members[: len(members) // every] for members in _shuffled_by_class(labels, seed)]
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def _shuffled_by_class(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    """Each class's indices, in class order, shuffled once by one generator seeded with ``seed``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == label)) for label in np.unique(labels)]
