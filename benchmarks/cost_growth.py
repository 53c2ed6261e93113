"""How search cost grows (the paper's Figure 6 question): seconds per shrink step against the edges left, and
total cost against N and K, measured with the same protocol, data and seed for every cell of the grid.

Writes a table (JSON) and a plot. The default proxy is reduced (1,000 / 200 Fashion-MNIST images) so the
whole grid fits in minutes on 2 cores; pass --proxy-train 5000 for the paper's proxy.
Usage: python benchmarks/cost_growth.py --out benchmarks/results/cost_growth
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from shrinknas.config import AutoShrinkConfig, ImageTask, ImageTraining, SearchSettings  # noqa: E402
from shrinknas.run.executors import evaluate_serially  # noqa: E402
from shrinknas.search.autoshrink import autoshrink  # noqa: E402


def search_cost(nodes: int, k: int, args: argparse.Namespace) -> dict:
    task = ImageTask(dataset=args.dataset, proxy_train=args.proxy_train, proxy_val=args.proxy_train // 5,
                     training=ImageTraining(epochs=args.epochs, finetune_steps=args.finetune_steps))
    config = AutoShrinkConfig(search=SearchSettings(nodes=nodes, candidates=k, protocol=args.protocol), task=task)
    start = time.perf_counter()
    result = autoshrink(config, evaluate_serially)
    per_step: dict[int, dict] = {}
    for c in result.candidates:
        row = per_step.setdefault(c.step, {"step": c.step, "seconds": 0.0, "trials": 0})
        row["seconds"] += c.result.seconds
        row["trials"] += 1
    for prev, kept in zip(result.chosen, result.chosen[1:]):
        per_step[kept.step]["edges_before"] = len(prev.topology.edges)
    return {"nodes": nodes, "candidates": k, "seconds": round(time.perf_counter() - start, 2),
            "trials": len(result.candidates), "best_S": round(result.best.score, 4),
            "steps": [per_step[s] for s in sorted(per_step) if s > 0 and "edges_before" in per_step[s]]}


def plot(rows: list[dict], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for row in rows:
        steps = row["steps"]
        left.plot([s["edges_before"] for s in steps], [s["seconds"] for s in steps], marker=".",
                  label=f"N={row['nodes']}, K={row['candidates']}")
    left.set_xlabel("edges before the step")
    left.set_ylabel("seconds per shrink step")
    left.invert_xaxis()
    left.legend(fontsize=8)
    for k in sorted({r["candidates"] for r in rows}):
        pts = sorted((r["nodes"], r["seconds"]) for r in rows if r["candidates"] == k)
        right.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"K={k}")
    right.set_xlabel("N (nodes of the initial complete DAG)")
    right.set_ylabel("total search seconds")
    right.legend(fontsize=8)
    fig.suptitle("AutoShrink search cost")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--proxy-train", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--finetune-steps", type=int, default=8)
    parser.add_argument("--protocol", default="inherit", choices=["inherit", "paper"])
    parser.add_argument("--nodes", type=int, nargs="+", default=[6, 8, 10])
    parser.add_argument("--candidates", type=int, nargs="+", default=[5, 10, 15])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/cost_growth")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grid = sorted({(n, 10) for n in args.nodes} | {(8, k) for k in args.candidates})
    rows = [search_cost(n, k, args) for n, k in grid]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"settings": vars(args), "runs": rows}, indent=2) + "\n")
    plot(rows, out.with_suffix(".png"))
    for r in rows:
        print(f"N={r['nodes']:>2} K={r['candidates']:>2}: {r['trials']:>4} trials, {r['seconds']:>8.1f} s, "
              f"best S {r['best_S']}")


if __name__ == "__main__":
    main()
