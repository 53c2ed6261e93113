"""Image datasets by name, and the normalised tensors a trainer consumes, cached per process.

Many trials in one worker train on the same proxy split, so loading and splitting happen once per process.
Cached arrays and tensors are shared: callers must not modify them in place.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import BadInputError
from .cifar import CIFAR10, CIFAR100, load_cifar
from .dataset import ImageDataset
from .digits import load_digits
from .fashion_mnist import DEBIAN_DIR, load_fashion_mnist
from .splits import balanced_split

if TYPE_CHECKING:
    from ..config import ImageTask

__all__ = [
    "ImageDataset",
    "TensorSplits",
    "DATASET_NAMES",
    "load_image_dataset",
    "balanced_split",
    "proxy_data",
    "full_data",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorSplits:
    """Training and validation tensors, float32 NCHW, normalised with the training part's channel statistics.

    ``mean`` and ``std`` are those statistics on the 0..255 pixel scale, kept so a trained model can be
    fed new images the same way.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    n_classes: int
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def in_channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input."""
        _, c, h, w = self.train_x.shape
        return int(c), int(h), int(w)


DATASET_NAMES = ("digits", "fashion-mnist", "fashion-mnist:DIR", "cifar10:DIR", "cifar100:DIR")
_CIFAR_LAYOUTS = {"cifar10": CIFAR10, "cifar100": CIFAR100}


@lru_cache(maxsize=4)
def load_image_dataset(name: str) -> ImageDataset:
    """The dataset called ``name`` (one of DATASET_NAMES), read once per process."""
    start = time.perf_counter()
    dataset = _load(name)
    log.info(
        "loaded %s: %d train, %d test images of shape %s in %.2f seconds",
        name, len(dataset.train_y), len(dataset.test_y), dataset.image_shape, time.perf_counter() - start,
    )
    return dataset


def _load(name: str) -> ImageDataset:
    kind, _, directory = name.partition(":")
    if name == "digits":
        return load_digits(name)
    if kind == "fashion-mnist":
        return load_fashion_mnist(Path(directory).expanduser() if directory else DEBIAN_DIR, name)
    if kind in _CIFAR_LAYOUTS:
        if not directory:
            raise BadInputError(f"dataset {kind} needs the directory of its binary files: use {kind}:DIR")
        return load_cifar(Path(directory).expanduser(), _CIFAR_LAYOUTS[kind], name)
    raise BadInputError(f"unknown image dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")


def proxy_data(task: "ImageTask") -> TensorSplits:
    """The task's class-balanced proxy split of training images (train and held-back val), as tensors."""
    return _proxy_data(task.dataset, task.proxy_train, task.proxy_val, task.data_seed)


@lru_cache(maxsize=8)
def _proxy_data(name: str, n_train: int, n_val: int, seed: int) -> TensorSplits:
    dataset = load_image_dataset(name)
    try:
        train_idx, val_idx = balanced_split(dataset.train_y, n_train, n_val, seed)
    except BadInputError as exc:
        raise BadInputError(f"{name}: {exc}") from None
    return _normalised(
        dataset.train_x[train_idx], dataset.train_y[train_idx],
        dataset.train_x[val_idx], dataset.train_y[val_idx],
        dataset.n_classes,
    )


@lru_cache(maxsize=1)  # a whole dataset as float32 is large; final training uses one at a time
def full_data(name: str) -> TensorSplits:
    """The whole training set as train and the test set as val, for final training."""
    dataset = load_image_dataset(name)
    return _normalised(dataset.train_x, dataset.train_y, dataset.test_x, dataset.test_y, dataset.n_classes)


def _normalised(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, n_classes: int
) -> TensorSplits:
    """Tensors scaled by the train part's per-channel mean and std (a constant channel keeps std 1)."""
    train = torch.from_numpy(train_x.astype(np.float32))
    val = torch.from_numpy(val_x.astype(np.float32))
    std, mean = torch.std_mean(train, dim=(0, 2, 3), correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    shape = (1, -1, 1, 1)
    for x in (train, val):
        x.sub_(mean.view(shape)).div_(std.view(shape))
    return TensorSplits(
        train.contiguous(),
        torch.from_numpy(train_y.astype(np.int64)),
        val.contiguous(),
        torch.from_numpy(val_y.astype(np.int64)),
        n_classes,
        tuple(float(m) for m in mean),
        tuple(float(s) for s in std),
    )
