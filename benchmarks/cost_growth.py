"""How search cost grows (the paper's Figure 6 question): seconds per shrink step against the edges left, and
total cost against N in {6, 8, 10} and K in {5, 10, 15}.

Running the whole grid for real would take a day here, so the grid is a measured cost model replayed through
the real search loop:
  1. the cost of one fast-protocol candidate is fitted as ``a + b * MACs`` to the trials of a finished paper-size
     run (``RUN``, e.g. the N=8 Fashion-MNIST search), whose trials span every cell size of its trajectory;
  2. the model is checked against fresh fine-tune trials of N=6 and N=10 cells, timed here in the same run;
  3. ``autoshrink`` itself runs for every (N, K) with an evaluator that counts each candidate's MACs and charges
     the modelled seconds instead of training; its accuracy is the run's own fit of val_acc against
     log10(MACs) plus seeded noise of the run's spread, so the cells kept shrink the way the search's did
     (checked: the modelled search at the run's own N and K against the run).
The left panel is measured: the run's own seconds per shrink step against the edges before the step.
Usage: python benchmarks/cost_growth.py runs/fm8 --out benchmarks/results/cost_growth
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from shrinknas.config import ImageTask
from shrinknas.methods.autoshrink.config import AutoShrinkConfig  # noqa: E402
from shrinknas.data.images import proxy_data  # noqa: E402
from shrinknas.nets.cnn import build_proxy_network  # noqa: E402
from shrinknas.resources import count  # noqa: E402
from shrinknas.run.executors import PoolExecutor, evaluate_with  # noqa: E402
from shrinknas.run.store import RunStore  # noqa: E402
from shrinknas.run.trial import ParentWeights, TrialResult, TrialSpec, weights_to_bytes  # noqa: E402
from shrinknas.methods.autoshrink.loop import autoshrink, derive_seed, initial_cell  # noqa: E402
from shrinknas.methods.autoshrink.run import stored_config  # noqa: E402
from shrinknas.genome.dag_cell import Topology  # noqa: E402
from shrinknas.methods.autoshrink.records import steps as kept_steps  # noqa: E402


def fit_cost(store: RunStore) -> tuple[float, float, float, list[dict]]:
    """Least-squares ``seconds = a + b * MACs`` over the run's fine-tuned candidates, with R^2."""
    rows = [r for r in store.trial_rows() if r["status"] == "ok" and r["parent"] is not None]
    macs = np.array([r["macs"] for r in rows], dtype=float)
    secs = np.array([r["seconds"] for r in rows], dtype=float)
    b, a = np.polyfit(macs, secs, 1)
    r2 = 1 - ((secs - (a + b * macs)) ** 2).sum() / ((secs - secs.mean()) ** 2).sum()
    return float(a), float(b), float(r2), rows


def fit_accuracy(rows: list[dict]) -> tuple[float, float, float]:
    """``val_acc = c + d * log10(MACs) + noise`` over the run's candidates: the trade a search's scores make."""
    usable = [r for r in rows if r["val_acc"] is not None and r["macs"] and r["val_acc"] > 0.5]
    if len(usable) < 3:
        raise SystemExit("the run has too few trained candidates above 50 % accuracy to fit an accuracy model")
    x = np.log10([r["macs"] for r in usable])
    y = np.array([r["val_acc"] for r in usable])
    d, c = np.polyfit(x, y, 1)
    return float(c), float(d), float((y - (c + d * x)).std())


def per_step_seconds(store: RunStore) -> list[dict]:
    """Measured: trial seconds spent in every step of the run, against the edges of the cell it shrank."""
    steps = {row["step"]: row for row in kept_steps(store)}
    by_parent: dict[str, dict] = {}
    for r in store.trial_rows():
        if r["parent"] is not None:
            entry = by_parent.setdefault(r["parent"], {"seconds": 0.0, "trials": 0})
            entry["seconds"] += r["seconds"]
            entry["trials"] += 1
    out = []
    for step in sorted(steps):
        row = steps[step]
        if row["key"] in by_parent:
            edges = len(Topology.from_dict(row["genome"]).edges)
            out.append({"edges_before": edges, **{k: round(v, 1) for k, v in by_parent[row["key"]].items()}})
    return out


def check_model(config: AutoShrinkConfig, a: float, b: float, nodes: list[int], workers: int) -> list[dict]:
    """Time real fine-tune trials of other N (complete cell minus one edge, and a half-pruned cell)."""
    task = config.task
    assert isinstance(task, ImageTask)
    data = proxy_data(task)
    specs, cells = [], []
    for n in nodes:
        full = initial_cell(config.model_copy(update={"search": config.search.model_copy(update={"nodes": n})}))
        rng = random.Random(derive_seed(0, "cost", n))
        half = full
        for _ in range(len(full.edges) // 2):
            half = half.without(rng.choice(half.edges))
        parent = build_proxy_network(full, task, data.in_channels, data.n_classes)
        weights = ParentWeights(f"complete{n}", full, weights_to_bytes(parent))
        for cell in (full.without(full.edges[0]), half):
            specs.append(TrialSpec(cell, task, 0, parent=weights))
            cells.append((n, cell))
    results = evaluate_with(PoolExecutor(workers))(specs)
    rows = []
    for (n, cell), r in zip(cells, results):
        rows.append({"nodes": n, "edges": len(cell.edges), "macs": r.metric("macs"), "seconds": round(r.seconds, 1),
                     "model_seconds": round(a + b * r.metric("macs"), 1), "status": r.status})
    return rows


def modelled_search(config: AutoShrinkConfig, nodes: int, k: int, a: float, b: float,
                    accuracy: tuple[float, float, float], seed: int) -> dict:
    """The real loop, charging modelled seconds: total cost and per-step cost of one (N, K)."""
    task = config.task
    assert isinstance(task, ImageTask)
    data = proxy_data(task)
    settings = config.search.model_copy(update={"nodes": nodes, "candidates": k, "seed": seed})
    search_config = config.model_copy(update={"search": settings})
    macs_of: dict[Topology, int] = {}

    def charge(spec: TrialSpec) -> TrialResult:
        if spec.genome not in macs_of:
            model = build_proxy_network(spec.genome, task, data.in_channels, data.n_classes)
            macs_of[spec.genome] = count(model, data.input_shape).macs
        macs = macs_of[spec.genome]
        c, d, noise = accuracy
        acc = c + d * np.log10(max(macs, 1)) + random.Random(derive_seed(seed, "acc", spec.genome.key())).gauss(0, noise)
        return TrialResult(spec.key(), "ok", metrics={"val_acc": acc, "macs": macs, "params": 0, "epochs": 1}, seconds=a + b * macs)

    def evaluate_many(specs, on_result=None):
        results = [charge(s) for s in specs]
        if on_result is not None:
            for i, r in enumerate(results):
                on_result(i, r)
        return results

    result = autoshrink(search_config.model_copy(update={"search": settings.model_copy(update={"protocol": "paper"})}),
                        evaluate_many)
    steps: dict[int, float] = {}
    for c in result.candidates:
        if c.step > 0:
            steps[c.step] = steps.get(c.step, 0.0) + c.result.seconds
    return {"nodes": nodes, "candidates": k, "seed": seed, "trials": len(result.candidates) - 1,
            "trial_seconds": round(sum(steps.values()), 1)}


def averaged(runs: list[dict]) -> dict:
    """One grid cell over its simulated seeds: mean trials and seconds, and the seconds' range."""
    secs = [r["trial_seconds"] for r in runs]
    return {"nodes": runs[0]["nodes"], "candidates": runs[0]["candidates"], "seeds": len(runs),
            "trials": round(sum(r["trials"] for r in runs) / len(runs), 1),
            "trial_seconds": round(sum(secs) / len(secs), 1), "trial_seconds_range": [min(secs), max(secs)]}


def plot(measured: list[dict], grid: list[dict], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot([s["edges_before"] for s in measured], [s["seconds"] for s in measured], marker=".")
    left.set_xlabel("edges before the step")
    left.set_ylabel("trial seconds in the step (measured)")
    left.set_title("N=8, K=10 search: cost of each shrink step", fontsize=9)
    left.invert_xaxis()
    for k in sorted({r["candidates"] for r in grid}):
        rows = sorted((r for r in grid if r["candidates"] == k), key=lambda r: r["nodes"])
        mean = [r["trial_seconds"] / 60 for r in rows]
        err = [[m - r["trial_seconds_range"][0] / 60 for m, r in zip(mean, rows)],
               [r["trial_seconds_range"][1] / 60 - m for m, r in zip(mean, rows)]]
        right.errorbar([r["nodes"] for r in rows], mean, yerr=err, marker="o", capsize=3, label=f"K={k}")
    right.set_xlabel("N (nodes of the initial complete DAG)")
    right.set_ylabel("trial minutes, one core (modelled; bars: seed range)")
    right.set_title("total candidate cost against N and K", fontsize=9)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, help="a finished --protocol inherit run (the cost model's data)")
    parser.add_argument("--nodes", type=int, nargs="+", default=[6, 8, 10])
    parser.add_argument("--candidates", type=int, nargs="+", default=[5, 10, 15])
    parser.add_argument("--check-nodes", type=int, nargs="*", default=[6, 10], help="N whose trials are timed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="simulated searches per (N, K), averaged (README: 3)")
    parser.add_argument("--out", default="benchmarks/results/cost_growth")
    args = parser.parse_args()
    store = RunStore.read(args.run)
    config = stored_config(store)
    a, b, r2, rows = fit_cost(store)
    start = time.perf_counter()
    checks = check_model(config, a, b, args.check_nodes, args.workers) if args.check_nodes else []
    accuracy = fit_accuracy(rows)
    seeds = range(config.search.seed, config.search.seed + args.seeds)
    grid = [averaged([modelled_search(config, n, k, a, b, accuracy, seed) for seed in seeds])
            for n in args.nodes for k in args.candidates]
    real = {"trials": len(rows), "trial_seconds": round(sum(r["seconds"] for r in rows), 1)}
    report = {
        "run": str(args.run),
        "cost_model": {"seconds": f"{a:.2f} + {b * 1e6:.3f} * MMACs", "r2": round(r2, 3), "fitted_trials": len(rows)},
        "accuracy_model": "val_acc = {:.3f} + {:.3f} * log10(MACs) + N(0, {:.3f})".format(*accuracy),
        "model_check": checks,
        "run_itself": {**real, "modelled": next((
            {"trials": g["trials"], "trial_seconds": g["trial_seconds"], "range": g["trial_seconds_range"]}
            for g in grid
            if (g["nodes"], g["candidates"]) == (config.search.nodes, config.search.candidates)), None)},
        "measured_per_step": per_step_seconds(store),
        "grid": grid,
        "seconds": round(time.perf_counter() - start, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report["measured_per_step"], grid, out.with_suffix(".png"))
    print(f"cost model: {report['cost_model']}; {report['accuracy_model']}")
    print(f"the run itself (fine-tuned trials): {report['run_itself']}")
    for c in checks:
        print(f"check N={c['nodes']:>2} edges={c['edges']:>2}: measured {c['seconds']} s, modelled {c['model_seconds']} s")
    print("| N | K | candidates | trial minutes on one core (range over seeds) | on 2 workers |")
    print("|---|---|---|---|---|")
    for g in report["grid"]:
        minutes, (low, high) = g["trial_seconds"] / 60, g["trial_seconds_range"]
        print(f"| {g['nodes']} | {g['candidates']} | {g['trials']:.0f} | {minutes:.1f} ({low / 60:.0f}-{high / 60:.0f}) "
              f"| {minutes / 2:.1f} |")


if __name__ == "__main__":
    main()
