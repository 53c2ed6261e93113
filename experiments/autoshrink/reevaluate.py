"""Unbiased proxy scores of the cells finished searches found: each run's final cell (and its complete DAG)
trained from scratch again on the run's proxy with fresh seeds, the paper's schedule (no path dropout) and its
arithmetic (fp32, whatever ``--precision`` the search trained in), so cells of fp32 and bf16 searches compare.

A search's best S is a maximum over many single-seed trainings, so it is biased upward (the winner's curse),
and more so the more candidates a protocol scores from scratch. Comparing two protocols' cells by their own
best S therefore favours the one that trained more candidates; comparing them on fresh seeds does not.
A run is read from its result files alone (config.yaml and summary.json), so a published folder under
experiments/autoshrink/searches/ can be judged again on another machine, without the run's store.
Usage: python experiments/autoshrink/reevaluate.py runs/fm5_inherit runs/fm5_paper --seeds 2 --workers 2 [--finalists] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from shrinknas.run.executors import PoolExecutor, evaluate_with
from shrinknas.run.trial import TrialSpec
from shrinknas.methods.autoshrink.loop import derive_seed
from shrinknas.methods.autoshrink.run import written_config
from shrinknas.methods.autoshrink.metric import score
from shrinknas.genome.dag_cell import Topology
from emit import emit  # experiments/autoshrink/emit.py


def fp32(task):
    """The task as the paper trains it: a bf16 search's cells are judged in fp32 like everyone else's."""
    return task.model_copy(update={"training": task.training.model_copy(update={"precision": "fp32"})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", type=Path, nargs="+",
                        help="finished runs (run directories or their published result folders), same task settings")
    parser.add_argument("--seeds", type=int, default=2, help="fresh seeds per cell")
    parser.add_argument("--with-complete", action="store_true", help="re-train the complete DAG too (once)")
    parser.add_argument("--finalists", action="store_true",
                        help="re-train every confirm-stage finalist too, not only the final cell")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cells, configs = {}, {}
    for folder in args.runs:
        configs[str(folder)] = written_config(folder)
        # the run's final cell: the confirm stage's pick where it ran (summary.json), else the search's best
        summary = json.loads((folder / "summary.json").read_text())
        final = summary["best"]
        cells[(str(folder), "best")] = (Topology.from_dict(final["cell"]), final["S"])
        if args.finalists:  # what another confirm rule (fewer seeds, say) would have picked, judged on fresh seeds
            for finalist in (summary.get("confirm") or {}).get("finalists", []):
                if finalist["cell"] != final["cell"]:
                    cells[(str(folder), f"finalist_step_{finalist['step']}")] = (
                        Topology.from_dict(finalist["cell"]), finalist["S"])
        complete = summary["complete_dag"]
        if args.with_complete and all(cell.to_dict() != complete["cell"] for cell, _ in cells.values()):
            cells[(str(folder), "complete")] = (Topology.from_dict(complete["cell"]), complete["S"])
    tasks = {fp32(c.task.from_scratch()) for c in configs.values()}
    if len(tasks) != 1:
        raise SystemExit("the runs were searched with different task settings; their proxy scores do not compare")
    config = next(iter(configs.values()))
    task = tasks.pop()
    seeds = [derive_seed(config.search.seed, "reevaluate", j) for j in range(args.seeds)]
    labelled = [(name, TrialSpec(cell, task, seed)) for name, (cell, _) in cells.items() for seed in seeds]
    start = time.perf_counter()
    results = evaluate_with(PoolExecutor(args.workers))([spec for _, spec in labelled])
    rows: dict[str, dict] = {}
    for (name, spec), r in zip(labelled, results):
        row = rows.setdefault(f"{name[0]}:{name[1]}", {
            "run": name[0], "which": name[1], "cell": spec.genome.to_dict(), "edges": len(spec.genome.edges),
            "macs": r.metric("macs"), "params": r.metric("params"), "S_in_search": round(cells[name][1], 4),
            "val_acc_fresh": [], "S_fresh": [], "epochs": []})
        row["val_acc_fresh"].append(r.metric("val_acc"))
        row["S_fresh"].append(round(score(r, spec.genome, task, config.search), 4))
        row["epochs"].append(r.metric("epochs"))
    for row in rows.values():
        row["S_fresh_mean"] = round(statistics.fmean(row["S_fresh"]), 4)
        row["winners_curse"] = round(row["S_in_search"] - row["S_fresh_mean"], 4)
    emit({"runs": [str(r) for r in args.runs], "seeds": seeds, "wall_seconds": round(time.perf_counter() - start, 1),
          "cells": list(rows.values())}, args.out)


if __name__ == "__main__":
    main()
