"""Final training of a found cell: the Table 1 network on the full training set (paper section 3.5), or a
recurrent cell's language model on the whole corpus (section 4.2)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ..config import ImageTraining, TextTask
from ..nets.cnn import CellNetwork, cifar_macro
from ..resources import count
from ..run.rundir import RunDir
from ..genome.dag_cell import Topology
from .classify import EpochCallback, fit


def train_final(
    topology: Topology,
    dataset: str,
    settings: ImageTraining,
    cells_per_stage: int = 1,
    width_mult: float = 1.0,
    act: str = "relu",
    seed: int = 0,
    device: str = "cpu",
    out: Path | None = None,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """Train on all training images, evaluate on the test set; optionally save weights and a report."""
    from ..data.augment import random_crop_flip
    from ..data.images import full_data

    data = full_data(dataset)
    torch.manual_seed(seed)
    model = CellNetwork(topology, cifar_macro(cells_per_stage, width_mult, act), data.in_channels, data.n_classes)
    counts = count(model, data.input_shape)
    pad = max(1, data.input_shape[-1] // 8)
    augment = (lambda xb, gen: random_crop_flip(xb, pad, gen)) if settings.augment else None
    start = time.perf_counter()
    fitted = fit(model, data, settings, seed=seed, device=device, on_epoch=on_epoch, augment=augment)
    report = {
        "dataset": dataset,
        "cell": topology.to_dict(),
        "cells_per_stage": cells_per_stage,
        "width_mult": width_mult,
        "act": act,
        "epochs": fitted.epochs,
        "precision": settings.precision,
        "test_acc": fitted.final_val_acc,
        "macs": counts.macs,
        "params": counts.params,
        "seconds": round(time.perf_counter() - start, 3),
        "history": fitted.history,
    }
    if out is not None:
        save_trained(out, report, model, topology)
    return report


def train_final_language(
    topology: Topology,
    task: TextTask,
    seed: int = 0,
    out: Path | None = None,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """Train on the whole training text with ``task.training``; the best-validation weights are tested, kept
    and (with ``out``) saved. ``macs`` are per predicted token."""
    from .language import fit_lm, language_model_for

    model, corpus = language_model_for(topology, task, seed)
    fitted = fit_lm(model, corpus, task.training, seed=seed, device=task.device, with_test=True, on_epoch=on_epoch)
    report = {
        "dataset": task.dataset,
        "cell": topology.to_dict(),
        "hidden": task.hidden,
        "vocab_size": corpus.vocab_size,
        "epochs": fitted.epochs,
        "best_epoch": fitted.best_epoch,
        "asgd_from_epoch": fitted.asgd_from_epoch,
        "val_ppl": fitted.val_ppl,
        "test_ppl": fitted.test_ppl,
        "params": fitted.params,
        "macs": fitted.macs,
        "seconds": round(fitted.seconds, 3),
        "training": task.training.model_dump(mode="json"),
        "history": fitted.history,
    }
    if out is not None:
        save_trained(out, report, model, topology)
    return report


def save_trained(out: Path, report: dict[str, Any], model: torch.nn.Module, topology: Topology) -> None:
    """result.json, weights.pt (a plain state dict: load it with weights_only=True) and cell.json in ``out``."""
    run = RunDir(out).create()
    run.write_json("result.json", report)
    torch.save(model.state_dict(), run.file("weights.pt"))
    run.write_text("cell.json", json.dumps(topology.to_dict(), indent=2) + "\n")
