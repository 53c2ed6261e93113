"""Wall time of one AutoShrink step (K candidates of the complete cell) per executor, and Ray's cost per trial.

Each executor runs the step twice: "cold" includes starting its processes (pool workers, a local Ray cluster),
"warm" is the same step again on the running workers. Ray's own cost per trial is measured with trials that do
nothing. Usage: python benchmarks/executors.py [--nodes 5] [--candidates 4] [--epochs 2] [--proxy-size 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import time

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.run.executors import Executor, PoolExecutor, RayExecutor, SerialExecutor
from shrinknas.run.trial import TrialResult, TrialSpec, evaluate
from shrinknas.methods.autoshrink.loop import derive_seed, sample_removals
from shrinknas.genome.dag_cell import Topology, balanced_ops
from emit import emit  # benchmarks/emit.py


def empty_trial(spec: TrialSpec) -> TrialResult:
    """A trial that does nothing: what is left is the executor's own cost."""
    return TrialResult(spec.key(), "ok", metrics={"val_acc": 0.0})


def step_specs(nodes: int, candidates: int, epochs: int, proxy_size: int) -> list[TrialSpec]:
    task = ImageTask(dataset="digits", proxy_train=proxy_size, proxy_val=max(10, proxy_size // 5),
                     training=ImageTraining(epochs=epochs, patience=epochs + 1, early_exit_acc=0.0))
    cell = Topology.complete("cnn", balanced_ops("cnn", nodes, random.Random(derive_seed(0, "ops"))))
    return [TrialSpec(cell.without(edge), task, seed=1) for edge in sample_removals(cell, candidates, 0, 1)]


def timed(executor: Executor, specs: list[TrialSpec]) -> tuple[float, list[TrialResult]]:
    start = time.perf_counter()
    results = [r for _, r in sorted(executor.map_unordered(specs), key=lambda pair: pair[0])]
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--proxy-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--empty-trials", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None, help="also save the JSON report here")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    specs = step_specs(args.nodes, args.candidates, args.epochs, args.proxy_size)
    empties = [TrialSpec(specs[0].genome, specs[0].task, seed) for seed in range(args.empty_trials)]

    serial = SerialExecutor(evaluate)
    timed(serial, specs[:1])  # this process loads the data and warms torch up once, as a search would
    executors: dict[str, Executor] = {
        "serial": serial,
        f"pool{args.workers}": PoolExecutor(args.workers, evaluate),
        "ray": RayExecutor("local", evaluate, num_cpus=args.workers),
    }
    cold: dict[str, float] = {}
    results: dict[str, list[float | None]] = {}
    for name, executor in executors.items():
        cold[name], done = timed(executor, specs)
        results[name] = [r.metric("val_acc") for r in done]
    warm: dict[str, list[float]] = {name: [] for name in executors}
    for _ in range(args.rounds):  # interleaved, best of rounds: load from elsewhere hits every executor alike
        for name, executor in executors.items():
            warm[name].append(timed(executor, specs)[0])
    best = {name: min(times) for name, times in warm.items()}
    executors["ray"].fn = empty_trial
    timed(executors["ray"], empties[:2])
    ray_empty, _ = timed(executors["ray"], empties)
    serial_empty, _ = timed(SerialExecutor(empty_trial), empties)
    for executor in executors.values():
        executor.close()
    report = {
        "step": {"nodes": args.nodes, "candidates": args.candidates, "epochs": args.epochs,
                 "proxy_train": args.proxy_size, "cpus": os.cpu_count(),
                 "load_average_1min": round(os.getloadavg()[0], 2)},
        "seconds_cold": {name: round(t, 2) for name, t in cold.items()},
        "seconds_warm_best": {name: round(t, 2) for name, t in best.items()},
        "speedup_over_serial_warm": {name: round(best["serial"] / t, 2) for name, t in best.items()},
        "same_val_acc_as_serial": {name: r == results["serial"] for name, r in results.items()},
        "ray_seconds_per_empty_trial": round((ray_empty - serial_empty) / len(empties), 4),
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
