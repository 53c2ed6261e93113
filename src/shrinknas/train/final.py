"""Final training of a found cell (paper section 3.5): the Table 1 network on the full training set."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ..config import ImageTraining
from ..nets.cnn import CellNetwork, cifar_macro
from ..resources import count
from ..run.rundir import RunDir
from ..topology import Topology
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
        "test_acc": fitted.final_val_acc,
        "macs": counts.macs,
        "params": counts.params,
        "seconds": round(time.perf_counter() - start, 3),
        "history": fitted.history,
    }
    if out is not None:
        run = RunDir(out).create()
        run.write_json("result.json", report)
        torch.save(model.state_dict(), run.file("weights.pt"))
        run.write_text("cell.json", json.dumps(topology.to_dict(), indent=2) + "\n")
    return report
