"""glibc's default allocator against ``keep_freed_memory`` (freed activations stay mapped), on one candidate epoch.

Each variant runs in its own process (the allocator is set per process), alternating, so the ratio holds on a
noisy machine; minor page faults are counted from the children's rusage.
Usage: python benchmarks/allocator.py [--nodes 8] [--rounds 2] [--out benchmarks/results/allocator_n8.json]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from emit import emit  # benchmarks/emit.py

CHILD = """
import random, sys, time, torch
from shrinknas.config import ImageTask, ImageTraining
from shrinknas.data.images import proxy_data
from shrinknas.nets.cnn import build_proxy_network
from shrinknas.methods.autoshrink.loop import derive_seed
from shrinknas.genome.dag_cell import Topology, balanced_ops
from shrinknas.train.classify import fit
from shrinknas.train.common import keep_freed_memory
torch.set_num_threads(1)
task = ImageTask(dataset=sys.argv[2], proxy_train=int(sys.argv[3]), proxy_val=int(sys.argv[3]) // 5, training=ImageTraining(epochs=1, early_exit_acc=0.0))
cell = Topology.complete("cnn", balanced_ops("cnn", int(sys.argv[1]), random.Random(derive_seed(0, "ops"))))
data = proxy_data(task)
torch.manual_seed(0)
model = build_proxy_network(cell, task, data.in_channels, data.n_classes)
start = time.perf_counter()
result = fit(model, data, task.training, seed=0)
print(time.perf_counter() - start, keep_freed_memory(), result.final_val_acc, repr(result.history[-1]["train_loss"]))
"""


def one_epoch(nodes: int, dataset: str, proxy: int, keep: bool) -> dict:
    env = {**os.environ, "SHRINKNAS_KEEP_FREED_MEMORY": "1" if keep else "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", CHILD, str(nodes), dataset, str(proxy)], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": float(out[0]), "tuned": out[1] == "True", "val_acc": float(out[2]), "train_loss": out[3],
            "minor_faults": after.ru_minflt - before.ru_minflt, "system_seconds": after.ru_stime - before.ru_stime}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--proxy-train", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"glibc_default": [], "keep_freed_memory": []}
    start = time.perf_counter()
    for _ in range(args.rounds):
        for name in runs:
            runs[name].append(one_epoch(args.nodes, args.dataset, args.proxy_train, name == "keep_freed_memory"))
    best = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    same = len({(r["val_acc"], r["train_loss"]) for rs in runs.values() for r in rs}) == 1
    report = {"settings": vars(args), "runs": runs, "best_seconds": best,
              "speedup": round(best["glibc_default"] / best["keep_freed_memory"], 3),
              "same_numbers_everywhere": same, "wall_seconds": round(time.perf_counter() - start, 1)}
    emit(report, args.out)


if __name__ == "__main__":
    main()
