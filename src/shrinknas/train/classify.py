"""Fit and evaluate an image classifier on in-memory tensors: the candidate trainer of every CNN search.

The authors' schedule is the default (Adam 4e-3 constant, batch 128, up to 20 epochs, score = best
validation accuracy, stop after ``patience`` epochs without a new best or at epoch 3 below 20 %).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
from torch import nn

from ..config import ImageTraining
from .common import Diverged, check_finite, keep_freed_memory, resolve_device, seed_everything

log = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict], None]


class Splits(Protocol):
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


@dataclass
class FitResult:
    best_val_acc: float
    final_val_acc: float
    epochs: int
    history: list[dict] = field(default_factory=list)
    #: where the fit stood when its step budget stopped it (asked for with ``pause=True``)
    paused: "FitPause | None" = None


@dataclass
class FitPause:
    """A fit as its step budget stopped it, before that budget's validation: the fit with a larger budget goes on
    from here exactly as if it had run straight through (same weights, optimizer moments, batches and random
    state), so a screening fine-tune's steps need not be taken again. Tensors and plain values only, so it
    travels as ``torch.save`` bytes and loads with ``weights_only=True``."""

    model: dict
    optimizer: dict
    generator: torch.Tensor
    global_rng: torch.Tensor
    epoch: int
    position: int  # index into ``order`` of the next batch
    order: torch.Tensor
    steps: int
    totals: list[float]
    seen: int
    best: list[float]
    since_best: list[int]
    histories: list[list[dict]]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def param_groups(model: nn.Module, settings: ImageTraining) -> list[dict]:
    """Weight decay on conv/linear weights; the authors' heavier L2 on residual projections; none on BN."""
    plain, projection, no_decay = [], [], []
    for name, p in model.named_parameters():
        if p.ndim <= 1:
            no_decay.append(p)
        elif ".projection." in f".{name}":
            projection.append(p)
        else:
            plain.append(p)
    return [
        {"params": plain, "weight_decay": settings.weight_decay},
        {"params": projection, "weight_decay": settings.projection_weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


@torch.no_grad()
def accuracies(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, candidates: int = 1, batch_size: int = 1024
) -> list[float]:
    """Accuracy of each candidate a model computes: logits (N, classes) for one, (N, K, classes) for K."""
    model.eval()
    correct = torch.zeros(candidates, dtype=torch.long, device=y.device)
    for start in range(0, len(x), batch_size):
        logits = _per_candidate(model(x[start : start + batch_size]))
        correct += (logits.argmax(-1) == y[start : start + batch_size, None]).sum(0)
    return [int(c) / max(len(x), 1) for c in correct.tolist()]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    return accuracies(model, x, y, 1, batch_size)[0]


def _per_candidate(logits: torch.Tensor) -> torch.Tensor:
    return logits.unsqueeze(1) if logits.ndim == 2 else logits


class EarlyStop:
    """One candidate's score and stopping rules: best val_acc so far, patience, the early-exit epoch."""

    def __init__(self, settings: ImageTraining) -> None:
        self.settings = settings
        self.best, self.since_best = -1.0, 0

    def update(self, epoch: int, val_acc: float) -> bool:
        """Record an epoch's val_acc; True when training should stop after it."""
        if val_acc > self.best:
            self.best, self.since_best = val_acc, 0
        else:
            self.since_best += 1
        s = self.settings
        return self.since_best >= s.patience or (epoch == s.early_exit_epoch and self.best < s.early_exit_acc)


def channels_last_crashes(model: nn.Module) -> bool:
    """True when torch 2.13's CPU kernels would corrupt the heap training ``model`` in channels_last.

    The backward of a strided 1x1 convolution with 2-7 input channels per group aborts the process (double
    free / segfault) in channels_last; found with a base width of 4. Such a model trains in NCHW instead.
    """
    return any(
        isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1 and m.in_channels // m.groups < 8
        for m in model.modules()
    )


def memory_format_for(model: nn.Module, channels_last: bool) -> torch.memory_format:
    """channels_last (2x faster convolutions here) where asked for and safe, else NCHW."""
    if channels_last and channels_last_crashes(model):
        log.info("training in NCHW: a strided 1x1 convolution this narrow crashes torch's channels_last kernels")
        return torch.contiguous_format
    return torch.channels_last if channels_last else torch.contiguous_format


def autocast(device: torch.device, settings: ImageTraining) -> torch.autocast:
    """bf16 autocast where the settings ask for it: convolutions and batch norm in bf16, the loss and Adam in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.precision == "bf16")


#: One candidate's outcome in a joint fit: its FitResult, or the Diverged it would have raised alone.
Outcome = FitResult | Diverged
#: (candidate, outcome) once a candidate is finished, before the shared model trains any further
FinishCallback = Callable[[int, Outcome], None]


def lr_schedule(optimizer: torch.optim.Optimizer, settings: ImageTraining,
                steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Cosine annealing reaches zero after the last step the run will take (``max_steps`` where it ends the run
    early, as in a fine-tune), so the final weights are those of a settled, not a mid-schedule, optimizer.
    The step schedule drops once, after ``lr_step_at`` of the epochs (stepped per batch, like the cosine)."""
    if settings.schedule == "step":
        drop_after = round(settings.lr_step_at * settings.epochs) * steps_per_epoch
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, [max(1, drop_after)], settings.lr_step_factor)
    if settings.schedule != "cosine":
        return None
    total = settings.epochs * steps_per_epoch
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, total))


def fit(
    model: nn.Module,
    data: Splits,
    settings: ImageTraining,
    seed: int,
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    pause: bool = False,
    resume: FitPause | None = None,
) -> FitResult:
    """Train ``model`` in place; raises ``Diverged`` on a non-finite loss. ``pause``: return where the step budget
    stopped the fit (``FitResult.paused``); ``resume``: go on from such a pause (of this model and these settings,
    with a smaller budget) instead of from the model as it is."""
    epoch_callback = None if on_epoch is None else lambda _k, epoch, entry: on_epoch(epoch, entry)
    (outcome,) = fit_candidates(model, 1, data, settings, seed, device, epoch_callback, augment, pause=pause,
                                resume=resume)
    if isinstance(outcome, Diverged):
        raise outcome
    return outcome


def fit_candidates(
    model: nn.Module,
    candidates: int,
    data: Splits,
    settings: ImageTraining,
    seed: int,
    device: str = "cpu",
    on_epoch: Callable[[int, int, dict], None] | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    on_finish: FinishCallback | None = None,
    pause: bool = False,
    resume: FitPause | None = None,
) -> list[Outcome]:
    """Train a model computing ``candidates`` networks side by side (logits (N, K, classes)) as K separate fits.

    The loss is the sum of the candidates' mean cross-entropies, so each candidate's gradient is its own, and
    Adam is elementwise: candidate k follows exactly the path ``fit`` would give it alone (same batches,
    same schedule), up to the rounding of the shared kernels. Each candidate keeps its own validation
    record and stopping rules; a stopped or diverged one leaves the loss (its outcome is fixed, ``on_finish``
    lets the caller save its weights) and the others go on until all are finished.
    """
    keep_freed_memory()
    gen = seed_everything(seed)
    dev = resolve_device(device)
    memory_format = memory_format_for(model, settings.channels_last)
    model.to(dev, memory_format=memory_format)
    train_x, train_y = data.train_x.to(dev), data.train_y.to(dev)
    val_x, val_y = data.val_x.to(dev).contiguous(memory_format=memory_format), data.val_y.to(dev)
    optimizer = torch.optim.Adam(param_groups(model, settings), lr=settings.lr)
    scheduler = lr_schedule(optimizer, settings, math.ceil(len(train_x) / settings.batch_size))
    if (pause or resume is not None) and (scheduler is not None or candidates != 1):
        raise ValueError("only a single fit at a constant learning rate can pause and resume: a schedule's "
                         "length depends on the budget")
    loss_fn = nn.CrossEntropyLoss()
    steps = 0
    budget = settings.max_steps if settings.max_steps is not None else float("inf")
    stops = [EarlyStop(settings) for _ in range(candidates)]
    histories: list[list[dict]] = [[] for _ in range(candidates)]
    outcomes: list[Outcome | None] = [None] * candidates
    paused: FitPause | None = None
    first_epoch = 1
    if resume is not None:
        if resume.steps > budget:
            raise ValueError(f"a fit paused after {resume.steps} steps cannot resume with a budget of {budget}")
        model.load_state_dict(resume.model)
        optimizer.load_state_dict(resume.optimizer)
        gen.set_state(resume.generator)
        torch.set_rng_state(resume.global_rng)
        steps, first_epoch, histories = resume.steps, resume.epoch, [list(h) for h in resume.histories]
        for stop, best, since in zip(stops, resume.best, resume.since_best):
            stop.best, stop.since_best = best, since

    def finish(k: int, outcome: Outcome) -> None:
        outcomes[k] = outcome
        if on_finish is not None:
            on_finish(k, outcome)

    for epoch in range(first_epoch, settings.epochs + 1):
        active = [k for k in range(candidates) if outcomes[k] is None]
        if not active:
            break
        model.train()
        if resume is not None and epoch == resume.epoch:  # the paused epoch: its order, from where it stopped
            order, begin, totals, seen = resume.order.to(dev), resume.position, list(resume.totals), resume.seen
        else:
            order, begin = torch.randperm(len(train_x), generator=gen).to(dev), 0
            totals, seen = [0.0] * candidates, 0
        position = begin  # of the next batch in ``order``
        for start in range(begin, len(order), settings.batch_size):
            if steps >= budget:
                break
            steps += 1
            position = start + settings.batch_size
            idx = order[start : start + settings.batch_size]
            xb = train_x[idx]
            if augment is not None:
                xb = augment(xb, gen)
            xb = xb.contiguous(memory_format=memory_format)
            with autocast(dev, settings):
                logits, yb = _per_candidate(model(xb)), train_y[idx]
                losses = torch.stack([loss_fn(logits[:, k], yb) for k in active])
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # a non-finite loss stays in its candidate's own weights, as it would alone
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for k, value in zip(active, losses.tolist()):
                totals[k] += value * len(idx)
            seen += len(idx)
        if pause and steps >= budget and paused is None:  # as the budget stops it, before its validation
            paused = FitPause(
                {k: v.detach().clone() for k, v in model.state_dict().items()}, copy.deepcopy(optimizer.state_dict()),
                gen.get_state(), torch.get_rng_state(), epoch, min(position, len(order)), order.cpu(), steps,
                list(totals), seen,
                [stop.best for stop in stops], [stop.since_best for stop in stops], [list(h) for h in histories])
        with autocast(dev, settings):
            val_accs = accuracies(model, val_x, val_y, candidates, batch_size=max(1, 1024 // candidates))  # K x mem
        for k in active:
            train_loss = totals[k] / max(seen, 1)
            try:
                check_finite(train_loss, epoch)
            except Diverged as exc:
                finish(k, exc)
                continue
            history = histories[k]
            history.append({"epoch": epoch, "train_loss": train_loss, "val_acc": val_accs[k]})
            log.debug("candidate %d epoch %d loss %.4f val_acc %.4f", k, epoch, train_loss, val_accs[k])
            if on_epoch is not None:
                on_epoch(k, epoch, history[-1])
            if stops[k].update(epoch, val_accs[k]) or epoch == settings.epochs or steps >= budget:
                finish(k, FitResult(stops[k].best, history[-1]["val_acc"], epoch, history, paused))
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]
