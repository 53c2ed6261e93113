"""Image datasets by name, and the normalised tensors a trainer consumes, cached per process.

Many trials in one worker train on the same proxy split, so loading and splitting happen once per process.
Cached arrays and tensors are shared: callers must not modify them in place.
"""

from __future__ import annotations

import logging
import re
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
from .fashion_mnist import DEBIAN_DIR, MINI_DIR, load_fashion_mnist
from .folder import load_image_folder
from .npz import load_npz
from .splits import PAPER_PROXY, balanced_split, largest_balanced_proxy

if TYPE_CHECKING:
    from ..config import ImageTask

__all__ = [
    "ImageDataset",
    "TensorSplits",
    "DATASET_NAMES",
    "load_image_dataset",
    "balanced_split",
    "fitting_proxy",
    "proxy_data",
    "full_data",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorSplits:
    """Training and validation tensors, float32 NCHW, normalised with the training part's channel statistics.

    ``mean`` and ``std`` are those statistics on the stored pixel scale (0..255 for image files), kept so a
    trained model can be fed new images the same way; ``class_names`` name its outputs.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    n_classes: int
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    class_names: tuple[str, ...] = ()

    @property
    def in_channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input."""
        _, c, h, w = self.train_x.shape
        return int(c), int(h), int(w)


DATASET_NAMES = ("digits", "fashion-mnist", "fashion-mnist-mini", "fashion-mnist:DIR", "cifar10:DIR",
                 "cifar100:DIR", "folder:DIR[@HxW]", "npz:FILE")
_CIFAR_LAYOUTS = {"cifar10": CIFAR10, "cifar100": CIFAR100}
_SIZE = re.compile(r"(\d+)(?:x(\d+))?")


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
    kind, _, where = name.partition(":")
    if name == "digits":
        return load_digits(name)
    if name == "fashion-mnist-mini":
        return load_fashion_mnist(MINI_DIR, name)
    if kind == "fashion-mnist":
        return load_fashion_mnist(Path(where).expanduser() if where else DEBIAN_DIR, name)
    if kind in (*_CIFAR_LAYOUTS, "folder", "npz") and not where:
        what = "FILE (an .npz archive)" if kind == "npz" else "DIR" + ("[@HxW]" if kind == "folder" else "")
        raise BadInputError(f"dataset {kind} needs its location: use {kind}:{what}")
    if kind in _CIFAR_LAYOUTS:
        return load_cifar(Path(where).expanduser(), _CIFAR_LAYOUTS[kind], name)
    if kind == "folder":
        directory, size = folder_location(where)
        return load_image_folder(directory, size, name)
    if kind == "npz":
        return load_npz(Path(where).expanduser(), name)
    raise BadInputError(f"unknown image dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")


def folder_location(where: str) -> tuple[Path, tuple[int, int] | None]:
    """``DIR`` or ``DIR@HxW`` / ``DIR@S`` (height x width, or a square side) of a ``folder:`` dataset.

    The size is part of the name, not a setting of its own, so one string names the data a trial saw: trial
    keys, the process cache and a run directory's record all carry it unchanged.
    """
    directory, at, size = where.rpartition("@")
    match = _SIZE.fullmatch(size) if at else None
    if match is None:
        if at and not Path(where).expanduser().exists():
            raise BadInputError(
                f"folder:{where}: {size!r} after @ is not a size (give HxW, e.g. @32x32) and no folder {where} exists"
            )
        return Path(where).expanduser(), None
    height = int(match[1])
    width = int(match[2] or height)
    if not (height and width):
        raise BadInputError(f"folder:{where}: an image size must be at least 1x1")
    return Path(directory).expanduser(), (height, width)


@lru_cache(maxsize=16)
def fitting_proxy(name: str) -> tuple[int, int]:
    """The default proxy of a dataset: the paper's 5,000 train + 1,000 val images where its training set holds
    them class-balanced, else the largest class-balanced proxy it holds at the same 5:1 ratio.

    An explicit size that does not fit stays an error (``proxy_data``): only an unset size is fitted.
    """
    try:
        return largest_balanced_proxy(load_image_dataset(name).train_y, *PAPER_PROXY)
    except BadInputError as exc:
        raise BadInputError(f"{name}: {exc}") from None


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
        dataset.n_classes, dataset.class_names,
    )


@lru_cache(maxsize=1)  # a whole dataset as float32 is large; final training uses one at a time
def full_data(name: str) -> TensorSplits:
    """The whole training set as train and the test set as val, for final training."""
    dataset = load_image_dataset(name)
    return _normalised(
        dataset.train_x, dataset.train_y, dataset.test_x, dataset.test_y, dataset.n_classes, dataset.class_names
    )


def _normalised(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, n_classes: int,
    class_names: tuple[str, ...],
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
        class_names,
    )
