"""DSO-NAS's supernet training: pretraining of the weights, then the search that alternates weight and structure
steps (paper sections 3.3 and 4.1, notes for the gaps).

The training set is split in two, class by class, in the ratio x:y of ``--split``: weights W learn on the first
part with Nesterov SGD, the scaling factors on the second with APG-NAG, x weight steps then y factor steps, so one
epoch is one pass over both parts (the paper's Table 3: "we update weight for x times and update lambda for y times
for every x + y iterations"; its ImageNet split, 4/5 and 1/5, is the 4:1 case). Pretraining trains W alone, on the
first part. Without a split (the paper's ablation) both learn on the whole set as in SSS, from one backward pass
per batch. A weight step computes no factor gradients and a factor step no weight gradients. Gradients are clipped
to +-2 (the authors'); weight decay falls on convolution and linear weights only, never on a factor or a BN gamma.

A ``SupernetTrainer`` is the whole state of one such training: ``state_dict()`` holds the model, both optimizers,
the epoch counts, the random state and the split, so a caller can checkpoint after every ``run_epoch`` and resume
to the same result. A non-finite loss raises ``Diverged`` with the trainer back at the end of its last good epoch.
Under ``torch.distributed`` each rank takes its slice of every batch of both parts and gradients are summed
(``distributed.Collective``); rank 0's factors are broadcast after every factor step, so every rank derives the
same architecture.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ..errors import BadInputError
from ..genome.dso_block import DsoArch, DsoSpace
from ..nets.dso import DsoSupernet
from ..optim import APGNAG
from .budgets import BUDGETS, Budget
from .classify import memory_format_for
from .common import Diverged, resolve_device
from .distributed import Collective, launch

log = logging.getLogger(__name__)

STAGES = ("pretrain", "search")


def parse_ratio(text: str) -> tuple[int, int]:
    """``"x:y"`` -> (x, y), both whole numbers of at least 1."""
    parts = str(text).split(":")
    try:
        x, y = (int(p) for p in parts)
    except ValueError:
        x = y = 0
    if len(parts) != 2 or x < 1 or y < 1:
        raise BadInputError(f"split ratio {text!r} must be two whole numbers of at least 1, like 1:1 or 4:1")
    return x, y


@dataclass(frozen=True)
class SupernetSettings:
    """How the supernet trains. Defaults: the paper's CIFAR search (constant lr 0.1, momentum 0.9, gamma 1e-3,
    adaptive FLOPs, split 1:1) and the notes' pretraining (lr 0.1, weight decay 1e-4)."""

    batch_size: int = 128
    momentum: float = 0.9
    pretrain_lr: float = 0.1
    weight_lr: float = 0.1
    lambda_lr: float = 0.1
    weight_decay: float = 1e-4
    gamma: float = 1e-3
    budget: str = "flops"
    ratio: tuple[int, int] = (1, 1)
    split: bool = True
    clip: float = 2.0
    channels_last: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "ratio", parse_ratio(":".join(map(str, self.ratio))))
        if self.batch_size < 1:
            raise BadInputError(f"batch size must be at least 1, got {self.batch_size}")
        for name in ("pretrain_lr", "weight_lr", "lambda_lr"):
            if not getattr(self, name) > 0:
                raise BadInputError(f"{name.replace('_', ' ')} must be above 0, got {getattr(self, name)}")
        if not 0 <= self.momentum < 1:
            raise BadInputError(f"momentum must be in [0, 1), got {self.momentum}")
        if not (self.weight_decay >= 0 and self.gamma >= 0 and self.clip > 0):
            raise BadInputError("weight decay and gamma must be at least 0 and the gradient clip above 0")
        if self.budget not in BUDGETS:
            raise BadInputError(f"unknown budget {self.budget!r}; expected one of {list(BUDGETS)}")


@dataclass
class _Tally:
    loss: float = 0.0
    correct: float = 0.0
    seen: int = 0

    def add(self, loss_sum: float, correct: float, n: int) -> None:
        self.loss, self.correct, self.seen = self.loss + loss_sum, self.correct + correct, self.seen + n


class SupernetTrainer:
    """Pretraining and search of ``model`` on ``images`` / ``labels`` (the training set, as tensors)."""

    def __init__(
        self,
        model: DsoSupernet,
        images: torch.Tensor,
        labels: torch.Tensor,
        settings: SupernetSettings,
        seed: int,
        device: str = "cpu",
        val: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        from ..data.splits import two_way_split

        self.model, self.settings, self.seed = model, settings, seed
        self.device = resolve_device(device)
        self.collective = Collective()
        self.memory_format = memory_format_for(model, settings.channels_last)
        model.to(self.device, memory_format=self.memory_format)
        self.collective.broadcast_(list(model.state_dict().values()))
        self.images, self.labels = images.to(self.device), labels.to(self.device)
        self.val = None if val is None else (val[0].to(self.device), val[1].to(self.device))
        if settings.split:
            first, second = two_way_split(labels.cpu().numpy(), settings.ratio, seed)
            self.split = (torch.from_numpy(first), torch.from_numpy(second))
        else:
            everything = torch.arange(len(labels))
            self.split = (everything, everything)
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self.epochs = dict.fromkeys(STAGES, 0)
        self._weights = model.weights()
        self._factors = model.named_scaling_factors()
        decay = [p for p in self._weights if p.ndim > 1]
        no_decay = [p for p in self._weights if p.ndim <= 1]
        self.weight_optimizer = torch.optim.SGD(
            [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=settings.pretrain_lr, momentum=settings.momentum, nesterov=True)
        self.lambda_optimizer = APGNAG([{"params": [p], "key": k} for k, p in self._factors.items()],
                                       lr=settings.lambda_lr, momentum=settings.momentum, gamma=settings.gamma)
        self.input_shape = tuple(int(d) for d in images.shape[1:])
        self.costs = model.op_costs(self.input_shape)
        self.budget = Budget(settings.budget, settings.gamma, model, self.costs)

    # ----- one epoch -----
    def run_epoch(self, stage: str) -> dict:
        """One pretraining or search epoch; returns its values (losses and accuracies of the weight and structure
        batches, validation accuracy when ``val`` was given, live factors, MACs of the kept network, seconds)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        snapshot = copy.deepcopy(self.state_dict())
        start = time.perf_counter()
        self._set_weight_lr(stage)
        tallies = {"weight": _Tally(), "lambda": _Tally()}
        self.model.train()
        try:
            for kind, batch in self.batches(stage):
                loss_sum, correct, n = self.step(kind, batch)
                for name in (("weight", "lambda") if kind == "joint" else (kind,)):
                    tallies[name].add(loss_sum, correct, n)
        except _NonFinite as exc:
            self.load_state_dict(snapshot)
            raise Diverged(f"{stage} epoch {self.epochs[stage] + 1}: the loss became {exc.args[0]}; the trainer is "
                           f"back at the end of {stage} epoch {self.epochs[stage]}") from None
        self.collective.broadcast_(list(self.model.state_dict().values()))  # BN statistics: rank 0's
        self.epochs[stage] += 1
        arch = self.model.derive()
        entry: dict = {"stage": stage, "epoch": self.epochs[stage]}
        for name, tally in tallies.items():
            if tally.seen:
                entry[f"{name}_loss"] = tally.loss / tally.seen
                entry[f"{name}_acc"] = tally.correct / tally.seen
        if self.val is not None:
            entry["val_acc"] = self.evaluate(*self.val)
        entry.update(live_lambdas=self.model.live_lambdas(), lambdas=sum(p.numel() for p in self._factors.values()),
                     kept_edges=list(arch.kept_edges), kept_macs=self.costs.kept_macs(arch),
                     complete_macs=self.costs.complete_macs, samples=tallies["weight"].seen,
                     seconds=time.perf_counter() - start)
        log.info("%s epoch %d: %s", stage, entry["epoch"],
                 " ".join(f"{k} {v:.4g}" for k, v in entry.items() if isinstance(v, float)))
        return entry

    def _set_weight_lr(self, stage: str) -> None:
        lr = self.settings.pretrain_lr if stage == "pretrain" else self.settings.weight_lr
        for group in self.weight_optimizer.param_groups:
            group["lr"] = lr

    def batches(self, stage: str) -> Iterator[tuple[str, torch.Tensor]]:
        """(kind, global batch indices): weight batches of the first part, interleaved x:y with factor batches of
        the second in a search epoch; joint batches of the whole set without a split."""
        size, world = self.settings.batch_size, self.collective.world

        def batches(part: torch.Tensor) -> list[torch.Tensor]:  # a batch too small to give every rank a sample goes
            return [b for b in part[torch.randperm(len(part), generator=self.generator)].split(size) if len(b) >= world]

        first, second = self.split
        w_batches = batches(first)
        if stage == "pretrain":
            yield from (("weight", b) for b in w_batches)
            return
        if not self.settings.split:
            yield from (("joint", b) for b in w_batches)
            return
        l_batches = batches(second)
        x, y = self.settings.ratio
        while w_batches or l_batches:
            for _ in range(x):
                if w_batches:
                    yield "weight", w_batches.pop(0)
            for _ in range(y):
                if l_batches:
                    yield "lambda", l_batches.pop(0)

    def step(self, kind: str, batch: torch.Tensor) -> tuple[float, float, int]:
        """One weight, factor or joint step on the global batch ``batch`` (indices into the training set; each
        rank takes its slice); returns the batch's summed loss, hits and size, over all ranks."""
        train_w, train_l = kind in ("weight", "joint"), kind in ("lambda", "joint")
        for p in self._weights:
            p.requires_grad_(train_w)
        for p in self._factors.values():
            p.requires_grad_(train_l)
        try:
            return self._step(train_w, train_l, batch)
        finally:
            for p in (*self._weights, *self._factors.values()):
                p.requires_grad_(True)

    def _step(self, train_w: bool, train_l: bool, batch: torch.Tensor) -> tuple[float, float, int]:
        model, col = self.model, self.collective
        mine = batch[col.rank:: col.world].to(self.device)
        x = self.images[mine].contiguous(memory_format=self.memory_format)
        y = self.labels[mine]
        logits = model(x)
        loss_sum = F.cross_entropy(logits, y, reduction="sum")
        (loss_sum / len(batch)).backward()
        params = (self._weights if train_w else []) + (list(self._factors.values()) if train_l else [])
        stats = torch.stack([loss_sum.detach(), (logits.argmax(1) == y).sum().to(loss_sum.dtype)])
        loss_total, correct = col.sum_gradients(params, stats).tolist()
        if not math.isfinite(loss_total):
            self.weight_optimizer.zero_grad(set_to_none=True)
            self.lambda_optimizer.zero_grad(set_to_none=True)
            raise _NonFinite(loss_total / len(batch))
        torch.nn.utils.clip_grad_value_([p for p in params if p.grad is not None], self.settings.clip)
        if train_l:
            gammas = self.budget.gammas(model.derive())
            for group in self.lambda_optimizer.param_groups:
                group["gamma"] = gammas[group["key"]]
            self.lambda_optimizer.step()
            col.broadcast_([p.data for p in self._factors.values()])
        if train_w:
            self.weight_optimizer.step()
        self.weight_optimizer.zero_grad(set_to_none=True)
        self.lambda_optimizer.zero_grad(set_to_none=True)
        return loss_total, correct, len(batch)

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024) -> float:
        """Accuracy in evaluation mode (each rank counts its slice; the counts are summed)."""
        self.model.eval()
        col = self.collective
        mine = torch.arange(col.rank, len(labels), col.world, device=labels.device)
        correct = torch.zeros((), device=self.device)
        for part in mine.split(batch_size):
            logits = self.model(images[part].contiguous(memory_format=self.memory_format))
            correct += (logits.argmax(1) == labels[part]).sum()
        self.model.train()
        return float(col.sum_(correct)) / max(len(labels), 1)

    def derive(self) -> DsoArch:
        return self.model.derive()

    # ----- checkpoints -----
    def state_dict(self) -> dict:
        """Everything a resumed run needs (tensors and plain values: ``torch.load(..., weights_only=True)``)."""
        state = {
            "model": self.model.state_dict(),
            "weight_optimizer": self.weight_optimizer.state_dict(),
            "lambda_optimizer": self.lambda_optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epochs": dict(self.epochs),
            "split": list(self.split),
            "seed": self.seed,
            "settings": asdict(self.settings),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict) -> None:
        if state["settings"] != asdict(self.settings) or state["seed"] != self.seed:
            raise BadInputError("this checkpoint was written with other settings or another seed; resume with the "
                                "settings it was started with")
        self.model.load_state_dict(state["model"])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.lambda_optimizer.load_state_dict(state["lambda_optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.epochs = dict(state["epochs"])
        self.split = (state["split"][0], state["split"][1])


class _NonFinite(Exception):
    pass


EpochCallback = Callable[[dict], None]


def train_supernet(trainer: SupernetTrainer, pretrain_epochs: int, search_epochs: int,
                   on_epoch: EpochCallback | None = None) -> list[dict]:
    """The epochs ``trainer`` has yet to run (pretraining first), each one's values passed to ``on_epoch`` (where
    a caller checkpoints); returns them."""
    history = []
    for stage, total in zip(STAGES, (pretrain_epochs, search_epochs)):
        while trainer.epochs[stage] < total:
            entry = trainer.run_epoch(stage)
            history.append(entry)
            if on_epoch is not None:
                on_epoch(entry)
    return history


# ----- data parallel -----
@dataclass(frozen=True)
class SupernetJob:
    """A whole supernet training as plain values, to hand to other processes."""

    space: DsoSpace
    settings: SupernetSettings
    pretrain_epochs: int
    search_epochs: int
    seed: int
    scale_level1: bool = True
    n_classes: int = 10


def search_data_parallel(job: SupernetJob, images: torch.Tensor, labels: torch.Tensor, world_size: int,
                         device: str = "cpu", threads: int = 1) -> list[dict]:
    """Train ``job`` over ``world_size`` processes with ``torch.distributed`` (gloo on CPU, NCCL on GPU, one GPU
    per rank); returns each rank's result: its derived architecture (``arch``, a genome dict), factor values,
    history and the samples it saw. A diverging run raises ``Diverged`` here."""
    if world_size < 1:
        raise BadInputError(f"--ddp needs at least 1 process, got {world_size}")
    if torch.device(device).type == "cuda" and world_size > torch.cuda.device_count():
        raise BadInputError(f"--ddp {world_size} on cuda needs {world_size} GPUs, found {torch.cuda.device_count()}")
    results = launch(world_size, _search_rank, (job, images, labels), device, threads)
    failed = [r["diverged"] for r in results if "diverged" in r]
    if failed:
        raise Diverged(failed[0])
    return results


def _search_rank(job: SupernetJob, images: torch.Tensor, labels: torch.Tensor, device: str) -> dict:
    torch.manual_seed(job.seed)
    model = DsoSupernet(job.space, int(images.shape[1]), job.n_classes, job.scale_level1)
    trainer = SupernetTrainer(model, images, labels, job.settings, job.seed, device)
    try:
        history = train_supernet(trainer, job.pretrain_epochs, job.search_epochs)
    except Diverged as exc:
        return {"rank": trainer.collective.rank, "diverged": str(exc)}
    rank_samples = sum(len(batch[trainer.collective.rank:: trainer.collective.world])
                       for batch in trainer.split[0].split(job.settings.batch_size))
    return {"rank": trainer.collective.rank, "arch": trainer.derive().to_dict(),
            "lambdas": {k: p.detach().cpu().tolist() for k, p in model.named_scaling_factors().items()},
            "history": history, "rank_samples_per_epoch": rank_samples}
