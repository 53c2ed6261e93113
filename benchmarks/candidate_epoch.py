"""Seconds per candidate training epoch of the complete N-node cell on the paper's proxy (5,000 images).

Compares memory formats (channels_last vs NCHW), thread counts, path dropout (the per-sample edge cuts of
``--path-dropout``) and arithmetic (fp32 vs bf16 autocast, ``--precision``) in one run, so the ratios hold on a
noisy machine. A whole ``fit``: training steps and the validation pass, as a candidate trial runs them.
Usage: python benchmarks/candidate_epoch.py [--dataset fashion-mnist] [--nodes 8] [--epochs 2] [--path-dropout 0 0.1]
       [--precisions fp32 bf16]
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.data.images import proxy_data
from shrinknas.nets.cnn import build_proxy_network
from shrinknas.resources import count
from shrinknas.methods.autoshrink.loop import derive_seed
from shrinknas.genome.dag_cell import Topology, balanced_ops
from shrinknas.train.classify import fit
from emit import emit  # benchmarks/emit.py


def seconds_per_epoch(cell: Topology, task: ImageTask, threads: int, channels_last: bool, epochs: int,
                      path_dropout: float = 0.0, precision: str = "fp32") -> float:
    torch.set_num_threads(threads)
    data = proxy_data(task)
    training = task.training.model_copy(update={"channels_last": channels_last, "epochs": epochs, "early_exit_acc": 0.0,
                                                "patience": epochs + 1, "path_dropout": path_dropout,
                                                "precision": precision})
    torch.manual_seed(0)
    model = build_proxy_network(cell, task.model_copy(update={"training": training}), data.in_channels, data.n_classes)
    start = time.perf_counter()
    fit(model, data, training, seed=0)
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the variants this many times")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to compare")
    parser.add_argument("--formats", nargs="+", default=["channels_last", "nchw"], choices=["channels_last", "nchw"])
    parser.add_argument("--path-dropout", type=float, nargs="+", default=[0.0], help="edge-cut chances to compare")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--out", default=None, help="also save the JSON report here")
    args = parser.parse_args()
    task = ImageTask(dataset=args.dataset, training=ImageTraining())
    ops = balanced_ops("cnn", args.nodes, random.Random(derive_seed(0, "ops")))
    cell = Topology.complete("cnn", ops)
    data = proxy_data(task)
    counts = count(build_proxy_network(cell, task, data.in_channels, data.n_classes), data.input_shape)
    variants = [(t, f, p, a) for t in args.threads for f in args.formats for p in args.path_dropout
                for a in args.precisions]
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for threads, form, cut, precision in variants:
            name = f"threads={threads} {form}" + (f" path_dropout={cut}" if cut else "") + (
                f" {precision}" if precision != "fp32" else "")
            times.setdefault(name, []).append(
                seconds_per_epoch(cell, task, threads, form == "channels_last", args.epochs, cut, precision))
    best = {k: min(v) for k, v in times.items()}
    ref = next(iter(best.values()))
    report = {
        "dataset": args.dataset, "nodes": args.nodes, "edges": len(cell.edges), "macs": counts.macs,
        "params": counts.params, "proxy_train": task.proxy_train,
        "seconds_per_epoch": {k: round(v, 3) for k, v in best.items()},
        "ratio_to_first_variant": {k: round(v / ref, 3) for k, v in best.items()},
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
