"""Where two searches' trials differ: the candidates both trained on the same step and removal, side by side.

Two runs that differ in one fast-protocol setting (``--leaf-handover``, say) share every trial the setting does not
touch, so the trials that differ are exactly the ones it acts on. Reads each run directory's
``trajectory.jsonl`` only, so it needs no store and no settings that still validate.
Usage: python experiments/autoshrink/trajectory_diff.py runs/fm5_inherit runs/fm5_ho [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from emit import emit  # experiments/autoshrink/emit.py

from shrinknas.run.rundir import RunDir
from shrinknas.methods.autoshrink.loop import preference


def trials(run: Path) -> dict[tuple, dict]:
    """(step, parent's edges, removed edge) -> the trajectory row. The parent of step s is the candidate step s-1
    kept: the row marked ``kept``, or in files written before rows were marked, the search's own rule again."""
    rows = RunDir(run).read_trajectory()
    kept: dict[int, list] = {}
    for step in sorted({row["step"] for row in rows}):
        usable = [row for row in rows if row["step"] == step and row["status"] == "ok"]
        if usable:
            keeper = next((row for row in usable if row.get("kept")), None) \
                or max(usable, key=lambda row: preference(row["S"], row["n_edges"]))
            kept[step] = keeper["edges"]
    return {(row["step"], json.dumps(kept.get(row["step"] - 1)), json.dumps(row["removed_edge"])): row for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    a, b = trials(args.first), trials(args.second)
    shared = sorted(set(a) & set(b))
    differing = [k for k in shared if a[k]["val_acc"] != b[k]["val_acc"]]
    emit({
        "first": str(args.first), "second": str(args.second),
        "shared_trials": len(shared), "differing_trials": len(differing),
        "only_first": len(set(a) - set(b)), "only_second": len(set(b) - set(a)),
        "first_differing_step": differing[0][0] if differing else None,
        "mean_val_acc_of_differing": {
            "first": round(statistics.fmean(a[k]["val_acc"] for k in differing), 4) if differing else None,
            "second": round(statistics.fmean(b[k]["val_acc"] for k in differing), 4) if differing else None,
        },
        "differing": [{"step": k[0], "removed_edge": a[k]["removed_edge"], "edges_after": a[k]["n_edges"],
                       "val_acc": [a[k]["val_acc"], b[k]["val_acc"]]} for k in differing],
    }, args.out)


if __name__ == "__main__":
    main()
