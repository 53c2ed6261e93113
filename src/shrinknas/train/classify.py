"""Fit and evaluate an image classifier on in-memory tensors: the candidate trainer of every CNN search.

The authors' schedule is the default (Adam 4e-3 constant, batch 128, up to 20 epochs, score = best
validation accuracy, stop after ``patience`` epochs without a new best or at epoch 3 below 20 %).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
from torch import nn

from ..config import ImageTraining
from .common import check_finite, resolve_device, seed_everything

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
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(x), batch_size):
        logits = model(x[start : start + batch_size])
        correct += int((logits.argmax(1) == y[start : start + batch_size]).sum())
    return correct / max(len(x), 1)


def fit(
    model: nn.Module,
    data: Splits,
    settings: ImageTraining,
    seed: int,
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
) -> FitResult:
    """Train ``model`` in place; raises ``Diverged`` on a non-finite loss."""
    gen = seed_everything(seed)
    dev = resolve_device(device)
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model.to(dev, memory_format=memory_format)
    train_x, train_y = data.train_x.to(dev), data.train_y.to(dev)
    val_x, val_y = data.val_x.to(dev).contiguous(memory_format=memory_format), data.val_y.to(dev)
    optimizer = torch.optim.Adam(param_groups(model, settings), lr=settings.lr)
    steps_per_epoch = math.ceil(len(train_x) / settings.batch_size)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs * steps_per_epoch)
        if settings.schedule == "cosine"
        else None
    )
    loss_fn = nn.CrossEntropyLoss()
    best, since_best, history = -1.0, 0, []
    epoch = steps = 0
    budget = settings.max_steps if settings.max_steps is not None else float("inf")
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(train_x), generator=gen).to(dev)
        total, seen = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            if steps >= budget:
                break
            steps += 1
            idx = order[start : start + settings.batch_size]
            xb = train_x[idx]
            if augment is not None:
                xb = augment(xb, gen)
            xb = xb.contiguous(memory_format=memory_format)
            loss = loss_fn(model(xb), train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        train_loss = total / max(seen, 1)
        check_finite(train_loss, epoch)
        val_acc = accuracy(model, val_x, val_y)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_acc": val_acc})
        log.debug("epoch %d loss %.4f val_acc %.4f", epoch, train_loss, val_acc)
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
        if val_acc > best:
            best, since_best = val_acc, 0
        else:
            since_best += 1
        if since_best >= settings.patience or steps >= budget:
            break
        if epoch == settings.early_exit_epoch and best < settings.early_exit_acc:
            break
    return FitResult(best_val_acc=best, final_val_acc=history[-1]["val_acc"], epochs=epoch, history=history)
