"""One AutoShrink step's K candidates trained one by one (K ``fit`` calls) vs together (one batched model).

The step is the first one of a search from the complete N-node cell (the paper's: N=8, K=10) on the paper's
proxy (Fashion-MNIST, 5,000 / 1,000 images of 28x28). Both variants run in the same process, alternating,
at 1 and 2 torch threads, so the ratios hold on a noisy shared machine. Each variant's time includes building
the candidates (and, batched, embedding and extracting their weights). FLOP/s counts useful training work
only: 3 x (forward MACs of the K candidates) x 2 x training images per epoch.

Usage: python benchmarks/batched_candidates.py [--dataset fashion-mnist] [--nodes 8] [--candidates 10]
       [--epochs 1] [--rounds 1] [--threads 1 2] [--proxy-train 5000 --proxy-val 1000] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.data.images import proxy_data
from shrinknas.nets.batched import BatchedCellNetwork
from shrinknas.nets.cnn import build_proxy_network, proxy_macro
from shrinknas.resources import count
from shrinknas.methods.autoshrink.loop import derive_seed, initial_cell, sample_removals
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.classify import fit, fit_candidates
from shrinknas.train.common import seed_everything
from emit import emit  # benchmarks/emit.py


def spread(a: list[float], b: list[float]) -> float:
    return round(max(abs(x - y) for x, y in zip(a, b)), 4)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(cell: Topology, task: ImageTask, seed: int) -> torch.nn.Module:
    data = proxy_data(task)
    seed_everything(seed)
    return build_proxy_network(cell, task, data.in_channels, data.n_classes)


def separately(cells: list[Topology], task: ImageTask, seed: int) -> list[float]:
    data = proxy_data(task)
    return [fit(build(c, task, seed), data, task.training, seed, task.device).best_val_acc for c in cells]


def together(cells: list[Topology], task: ImageTask, seed: int) -> list[float]:
    data = proxy_data(task)
    nets = [build(c, task, seed) for c in cells]
    batched = BatchedCellNetwork(cells, proxy_macro(task), data.in_channels, data.n_classes)
    batched.load(nets)
    outcomes = fit_candidates(batched, len(cells), data, task.training, seed, task.device,
                              on_finish=lambda k, _: batched.extract(k, nets[k]))
    return [o.best_val_acc for o in outcomes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the variants this many times")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--proxy-train", type=int, default=5000)
    parser.add_argument("--proxy-val", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="also save the JSON report here")
    args = parser.parse_args()
    training = ImageTraining(epochs=args.epochs, batch_size=args.batch_size, patience=args.epochs + 1,
                             early_exit_acc=0.0)
    task = ImageTask(dataset=args.dataset, proxy_train=args.proxy_train, proxy_val=args.proxy_val, training=training,
                     device=args.device)
    config = AutoShrinkConfig(search=SearchSettings(nodes=args.nodes, candidates=args.candidates), task=task)
    parent = initial_cell(config)
    cells = [parent.without(e) for e in sample_removals(parent, args.candidates, 0, 1)]
    seed = derive_seed(0, "trial", 1)
    data = proxy_data(task)
    macs = sum(count(build(c, task, seed), data.input_shape).macs for c in cells)
    union = BatchedCellNetwork(cells, proxy_macro(task), data.in_channels, data.n_classes)
    executed = count(union, data.input_shape).macs  # convolutions as run, padding included (classifier left out)
    flops = 3 * macs * 2 * len(data.train_x) * args.epochs

    seconds: dict[str, list[float]] = {}
    cpu_seconds: dict[str, list[float]] = {}
    accs: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for threads in args.threads:
            torch.set_num_threads(threads)
            for name, run in (("separate", separately), ("batched", together)):
                start, cpu_start = time.perf_counter(), time.process_time()
                accs[f"threads={threads} {name}"] = run(cells, task, seed)
                seconds.setdefault(f"threads={threads} {name}", []).append(time.perf_counter() - start)
                cpu_seconds.setdefault(f"threads={threads} {name}", []).append(time.process_time() - cpu_start)
                log(f"threads={threads} {name}: {seconds[f'threads={threads} {name}'][-1]:.1f} s")
    best = {k: min(v) for k, v in seconds.items()}
    best_cpu = {k: min(v) for k, v in cpu_seconds.items()}
    report = {
        "dataset": args.dataset, "nodes": args.nodes, "candidates": len(cells), "epochs": args.epochs,
        "proxy_train": len(data.train_x), "batch_size": args.batch_size,
        "candidate_macs_total": macs, "batched_executed_macs": executed,
        "seconds": {k: round(v, 2) for k, v in best.items()},
        "cpu_seconds": {k: round(v, 2) for k, v in best_cpu.items()},
        "speedup_batched_vs_separate": {
            f"threads={t}": round(best[f"threads={t} separate"] / best[f"threads={t} batched"], 3) for t in args.threads
        },
        "cpu_time_ratio_separate_to_batched": {
            f"threads={t}": round(best_cpu[f"threads={t} separate"] / best_cpu[f"threads={t} batched"], 3)
            for t in args.threads
        },
        "train_gflop_per_s": {k: round(flops / v / 1e9, 2) for k, v in best.items()},
        # float32 training amplifies rounding: the spread between two separate runs that differ only in their
        # thread count (so in their kernels' summation order) is the yardstick for separate vs batched
        "max_abs_val_acc_difference": {
            **{f"threads={t} separate vs batched": spread(accs[f"threads={t} separate"], accs[f"threads={t} batched"])
               for t in args.threads},
            **({"separate threads=1 vs threads=2": spread(accs["threads=1 separate"], accs["threads=2 separate"])}
               if {1, 2} <= set(args.threads) else {}),
        },
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
