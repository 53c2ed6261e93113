"""Training sequential networks (``genome.layer_seq``) with Architecture Compression's recipe (appendix 10).

Fashion-MNIST's recipe: Adam, lr 0.01, divided by 10 at the 30th of 50 epochs (60 %), batch 64; the paper
names no weight decay (none here) and trains every epoch (no early stop). The dataset phase trains each sampled
architecture "for 5 epochs" of "the same procedure": the first E epochs of that recipe, at the constant
lr 0.01 (its drop comes at epoch 30). Both go through ``classify.fit``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..config import ImageTraining
from ..data.images import TensorSplits
from ..errors import BadInputError
from ..genome.layer_seq import LayerSequence
from ..nets.sequential import build_sequential
from .classify import EpochCallback, fit


def final_recipe(epochs: int = 50) -> ImageTraining:
    """Appendix 10 (Fashion-MNIST): Adam lr 0.01, lr / 10 after 60 % of the epochs, batch 64, every epoch."""
    return ImageTraining(epochs=epochs, lr=0.01, batch_size=64, weight_decay=0.0, projection_weight_decay=0.0,
                         schedule="step", lr_step_at=0.6, lr_step_factor=0.1, patience=epochs,
                         early_exit_acc=0.0)


def dataset_recipe(epochs: int = 5) -> ImageTraining:
    """The dataset phase's short training: the recipe's first ``epochs`` epochs (constant lr 0.01)."""
    return final_recipe(epochs).model_copy(update={"schedule": "constant"})


@dataclass(frozen=True)
class SequentialTraining:
    """A trained sequential network's figures: ``val_acc`` of the network as trained (the last epoch)."""

    val_acc: float
    best_val_acc: float
    params: int
    macs: int
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_sequential(genome: LayerSequence, data: TensorSplits, settings: ImageTraining, seed: int,
                     device: str = "cpu", on_epoch: EpochCallback | None = None,
                     model: torch.nn.Module | None = None) -> SequentialTraining:
    """Build (seeded) and train ``genome`` on ``data``; raises ``Diverged`` on a non-finite loss. ``model``: train
    this module instead (the same network, e.g. pruned with inherited weights)."""
    if tuple(data.input_shape) != tuple(genome.input) or data.n_classes != genome.classes:
        raise BadInputError(f"the network takes {list(genome.input)} inputs and {genome.classes} classes, the "
                            f"data has {list(data.input_shape)} and {data.n_classes}; use a matching architecture")
    if model is None:
        torch.manual_seed(seed)
        model = build_sequential(genome)
    start = time.perf_counter()
    fitted = fit(model, data, settings, seed=seed, device=device, on_epoch=on_epoch)
    return SequentialTraining(fitted.final_val_acc, fitted.best_val_acc, genome.params(), genome.macs(),
                              fitted.epochs, round(time.perf_counter() - start, 3), fitted.history)


def dataset_trial(genome: LayerSequence, data: TensorSplits, epochs: int, seed: int,
                  device: str = "cpu") -> dict[str, Any]:
    """One short training of the dataset phase (E epochs, one seed): val_acc, params, macs, seconds."""
    trained = train_sequential(genome, data, dataset_recipe(epochs), seed, device)
    return {"val_acc": trained.val_acc, "params": trained.params, "macs": trained.macs,
            "seconds": trained.seconds, "epochs": trained.epochs}
