"""Training the architecture autoencoder (Algorithm 1, TRAIN) on (architecture, mean accuracy) pairs.

A random 10 % of the architectures is held out and reports, every epoch, what the embedding is worth for a
descent: the exact-match rate of reconstructions, the Kendall tau of the accuracy regressor and the relative
error of the parameter regressor. The trainer's ``state_dict`` holds the model, optimizer, schedule, epoch and
the random state of the batch order, so training checkpointed after any epoch and resumed goes on bit for bit
as if it had not stopped.

Defaults are the paper's (section 10.2: SGD, Nesterov momentum 0.5, lr 0.003, lr x 1/5 every 30 epochs, the
period read as epochs); it gives no lambda1, lambda2 or batch size (ours: 1, 1, 32). ``optimizer="adam"`` is
NAO's choice (Adam 1e-3), much faster at the small scales that fit on a CPU.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

import torch
from pydantic import Field

from ..config import StrictModel
from ..errors import BadInputError
from ..genome.layer_seq import LayerSequence, Row
from ..nets.autoencoder import ArchAutoencoder, AutoencoderShape, autoencoder_losses
from .common import check_finite

log = logging.getLogger(__name__)


class EmbeddingTraining(StrictModel):
    """Settings of an embedding training."""

    epochs: int = Field(100, ge=1)
    batch_size: int = Field(32, ge=1)
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.003, gt=0)
    momentum: float = Field(0.5, ge=0, lt=1, description="SGD's Nesterov momentum")
    weight_decay: float = Field(0.0, ge=0)
    lr_decay_every: int | None = Field(30, ge=1, description="epochs between lr decays; None: constant")
    lr_decay_factor: float = Field(0.2, gt=0, le=1)
    grad_clip: float | None = Field(None, gt=0, description="clip the gradient norm (NAO: 5)")
    lam1: float = Field(1.0, ge=0, description="weight of the accuracy loss (eq. 15)")
    lam2: float = Field(1.0, ge=0, description="weight of the parameter loss (eq. 15)")
    holdout: float = Field(0.1, ge=0, lt=1, description="fraction of architectures held out for the report")
    params_log: bool = Field(False, description="standardise log10(params) instead of params (a departure: "
                                                "counts span orders of magnitude)")
    seed: int = 0


@dataclass(frozen=True)
class ParamsScale:
    """Eq. 11's standardisation ``(p - mean) / std``, of the count or (``log``) of its log10."""

    mean: float
    std: float
    log: bool = False

    @classmethod
    def fit(cls, counts: Sequence[int], log: bool = False) -> "ParamsScale":
        values = [_forward(c, log) for c in counts]
        std = statistics.pstdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std if std > 0 else 1.0, log)

    def standardise(self, params: float) -> float:
        return (_forward(params, self.log) - self.mean) / self.std

    def count(self, value: float) -> float:
        """The parameter count a standardised value stands for."""
        raw = value * self.std + self.mean
        return 10.0 ** raw if self.log else raw

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _forward(params: float, log: bool) -> float:
    return math.log10(max(params, 1.0)) if log else float(params)


class Encoding(Protocol):
    """How architectures become the autoencoder's input and back (``methods.compress.encoding``)."""

    max_layers: int

    def batch(self, genomes: Sequence[LayerSequence]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode(self, x: torch.Tensor) -> list[Row]: ...


EpochCallback = Callable[[int, dict], None]


class EmbeddingTrainer:
    """Trains an autoencoder on ``genomes`` and their ``accuracies`` (eq. 4's mean over seeds), epoch by epoch."""

    def __init__(self, genomes: Sequence[LayerSequence], accuracies: Sequence[float], encoding: Encoding,
                 settings: EmbeddingTraining = EmbeddingTraining(), shape: AutoencoderShape | None = None) -> None:
        if len(genomes) != len(accuracies):
            raise ValueError("one accuracy per architecture")
        if len(genomes) < 2:
            raise BadInputError("an embedding needs at least 2 trained architectures")
        if not all(0.0 <= a <= 1.0 for a in accuracies):
            raise BadInputError("accuracies must lie in [0, 1]")
        self.settings = settings
        self.encoding = encoding
        self.shape = shape or AutoencoderShape(seq_len=encoding.max_layers)
        if self.shape.seq_len != self.encoding.max_layers:
            raise ValueError(f"the autoencoder's seq_len {self.shape.seq_len} must be the encoding's max_layers "
                             f"{self.encoding.max_layers}")
        self.genomes = list(genomes)
        self.train_idx, self.holdout_idx = _split(len(genomes), settings.holdout, settings.seed)
        counts = [g.params() for g in self.genomes]
        self.scale = ParamsScale.fit([counts[i] for i in self.train_idx], settings.params_log)
        self.x, self.mask = self.encoding.batch(self.genomes)
        self.accuracy = torch.tensor(list(accuracies), dtype=torch.float32)
        self.params = torch.tensor([self.scale.standardise(c) for c in counts], dtype=torch.float32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            self.model = ArchAutoencoder(self.shape)
        self.optimizer = _optimizer(self.model, settings)
        self.scheduler = (torch.optim.lr_scheduler.StepLR(self.optimizer, settings.lr_decay_every,
                                                          settings.lr_decay_factor)
                          if settings.lr_decay_every is not None else None)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.epoch = 0
        self.history: list[dict] = []

    # ----- training -----
    def train_epoch(self) -> dict:
        """One pass over the training architectures; returns the epoch's values (train losses, held-out report)."""
        self.model.train()
        order = torch.tensor(self.train_idx)[torch.randperm(len(self.train_idx), generator=self.generator)]
        sums = {"loss": 0.0, "reconstruction": 0.0, "accuracy": 0.0, "params": 0.0}
        lr = self.optimizer.param_groups[0]["lr"]
        for start in range(0, len(order), self.settings.batch_size):
            idx = order[start:start + self.settings.batch_size]
            terms = self._losses(idx)
            self.optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if self.settings.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
            self.optimizer.step()
            for name, value in terms.items():
                sums[name] += value.item() * len(idx)
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch += 1
        n = max(len(order), 1)
        entry = {"epoch": self.epoch, "lr": lr, **{f"train_{name}": value / n for name, value in sums.items()}}
        check_finite(entry["train_loss"], self.epoch)
        entry.update({f"holdout_{name}": value for name, value in self.evaluate().items()})
        self.history.append(entry)
        log.debug("embedding epoch %d: %s", self.epoch, entry)
        return entry

    def fit(self, on_epoch: EpochCallback | None = None) -> list[dict]:
        """Train until ``settings.epochs`` (from wherever a loaded state left off)."""
        while self.epoch < self.settings.epochs:
            entry = self.train_epoch()
            if on_epoch is not None:
                on_epoch(self.epoch, entry)
        return self.history

    def _losses(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        output = self.model(self.x[idx])
        return autoencoder_losses(output, self.x[idx], self.mask[idx], self.accuracy[idx], self.params[idx],
                                  self.settings.lam1, self.settings.lam2)

    # ----- report -----
    @torch.no_grad()
    def evaluate(self, indices: Sequence[int] | None = None) -> dict:
        """The report on the held-out architectures (or on ``indices``): exact-match rate of reconstructions,
        Kendall tau of the accuracy regressor, median relative error of the parameter regressor, loss terms."""
        idx = list(self.holdout_idx if indices is None else indices)
        if not idx:
            return {}
        self.model.eval()
        output = self.model(self.x[idx])
        terms = autoencoder_losses(output, self.x[idx], self.mask[idx], self.accuracy[idx], self.params[idx],
                                   self.settings.lam1, self.settings.lam2)
        exact = sum(self.encoding.decode(rec) == self.genomes[i].rows()
                    for rec, i in zip(output.reconstruction, idx))
        predicted = [self.scale.count(float(v)) for v in output.params]
        actual = [self.genomes[i].params() for i in idx]
        return {
            "exact_match": exact / len(idx),
            "kendall_tau": kendall_tau(output.accuracy.tolist(), self.accuracy[idx].tolist()),
            "params_rel_error": statistics.median(abs(p - a) / a for p, a in zip(predicted, actual)),
            **{name: float(value) for name, value in terms.items()},
        }

    # ----- checkpoints -----
    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values only: saves with ``torch.save``, loads with ``weights_only=True``."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "generator": self.generator.get_state(), "epoch": self.epoch,
                "history": [dict(entry) for entry in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on from a ``state_dict`` of a trainer made with the same architectures and settings."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.epoch = int(state["epoch"])
        self.history = [dict(entry) for entry in state["history"]]


def _split(n: int, holdout: float, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = min(n - 1, round(holdout * n)) if holdout > 0 else 0
    return sorted(order[held:]), sorted(order[:held])


def _optimizer(model: torch.nn.Module, settings: EmbeddingTraining) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           nesterov=settings.momentum > 0, weight_decay=settings.weight_decay)


def kendall_tau(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    """Kendall's tau-b (scipy); None where it is undefined (fewer than 2 values, or all equal)."""
    from scipy.stats import kendalltau

    if len(predicted) < 2:
        return None
    tau = kendalltau(predicted, actual).statistic
    return None if tau is None or math.isnan(tau) else float(tau)
