"""A tiny DSO-NAS search on scikit-learn's digits, shared by the supernet training tests."""

from __future__ import annotations

import torch

from shrinknas.data.digits import load_digits
from shrinknas.genome.dso_block import DsoSpace
from shrinknas.nets.dso import DsoSupernet
from shrinknas.train.supernet import SupernetSettings, SupernetTrainer


def digits(n: int = 240) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits("digits")
    x = torch.from_numpy(data.train_x[:n].astype("float32") / 16)
    return (x - x.mean()) / x.std(), torch.from_numpy(data.train_y[:n].astype("int64"))


def tiny_space(space: str = "share") -> DsoSpace:
    return DsoSpace(stages=2, blocks=1, levels=2, ops=("sepconv3x3", "maxpool3x3"), width=4, space=space)


def trainer(space: str = "share", seed: int = 0, n: int = 240, init_seed: int | None = None, **settings
            ) -> SupernetTrainer:
    x, y = digits(n)
    torch.manual_seed(seed if init_seed is None else init_seed)
    model = DsoSupernet(tiny_space(space), 1, 10)
    return SupernetTrainer(model, x, y, SupernetSettings(**{"batch_size": 32, "gamma": 0.1, **settings}), seed)
