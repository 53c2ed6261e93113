"""What a faithful (from-scratch) search would cost where it is too long to run here, projected from measured costs.

A paper-protocol candidate costs ``epochs x (a + b x MACs)`` seconds on one core: a and b are fitted to a finished
``--protocol paper`` run's trials (seconds per epoch against MACs), and the epochs are that run's mean (where its
early stop left them) or the schedule's maximum. The fit is checked against a from-scratch training it did not
see: step 0 of the fast run, the complete DAG trained with the paper's schedule (both protocols start there).
The projection charges that cost to every cell the fast run trained. A faithful search of the same N and K samples
as many cells of the same sizes, though not the same cells: where the faithful search was run too (pass the fast
run of the same N and seed as the paper run), the projection is checked against its measured total.
Compared with what the fast run spent: its trial seconds (screening fine-tunes included) plus its confirm stage's.
``--calibrate``: where the fast run ran on another kind of machine than the paper run, scale the fit by step 0's
measured over fitted seconds per epoch, so both sides are this machine's seconds. ``--calibrate-to RUN``: scale to
that run's step 0 instead (an fp32 run on the fast run's machine, where the fast run trained in bf16 and the faithful
search it is compared with trains in the paper's fp32).
Usage: python experiments/autoshrink/faithful_projection.py experiments/autoshrink/searches/fm8_plain \
           --paper-run experiments/autoshrink/searches/fm8_paper \
           --out experiments/autoshrink/cost/faithful_projection_fm8_plain_measured.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emit import emit  # experiments/autoshrink/emit.py

from shrinknas.run.rundir import RunDir


def trajectory(run: Path) -> list[dict]:
    return [r for r in RunDir(run).read_trajectory() if r["status"] == "ok"]


def fit_epoch_cost(rows: list[dict]) -> tuple[float, float, float]:
    """Least-squares ``seconds / epoch = a + b * MMACs`` over from-scratch trials, with R^2."""
    mmacs = np.array([r["macs"] / 1e6 for r in rows])
    per_epoch = np.array([r["seconds"] / r["epochs"] for r in rows])
    b, a = np.polyfit(mmacs, per_epoch, 1)
    r2 = 1 - ((per_epoch - (a + b * mmacs)) ** 2).sum() / ((per_epoch - per_epoch.mean()) ** 2).sum()
    return float(a), float(b), float(r2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, help="result folder of a fast (--protocol inherit) search")
    parser.add_argument("--paper-run", type=Path, required=True, help="result folder of a --protocol paper search")
    parser.add_argument("--calibrate", action="store_true",
                        help="the runs ran on different kinds of machine: scale the fit to the fast run's step 0")
    parser.add_argument("--calibrate-to", type=Path, default=None,
                        help="scale the fit to this run's step 0 (implies --calibrate)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    fast, paper = trajectory(args.run), trajectory(args.paper_run)
    fast_summary = RunDir(args.run).read_json("summary.json")
    a, b, r2 = fit_epoch_cost(paper)
    calibrate = args.calibrate or args.calibrate_to is not None
    step0 = next(r for r in trajectory(args.calibrate_to or args.run) if r["step"] == 0)
    fitted_step0 = a + b * step0["macs"] / 1e6
    scale = step0["seconds"] / step0["epochs"] / fitted_step0 if calibrate else 1.0
    a, b = a * scale, b * scale
    epochs_mean = float(np.mean([r["epochs"] for r in paper]))
    epochs_max = max(r["epochs"] for r in paper)

    def projected(epochs: float) -> float:
        return sum(epochs * (a + b * r["macs"] / 1e6) for r in fast)

    confirm = fast_summary.get("confirm") or {}
    search_seconds = fast_summary["trial_seconds"]  # the trajectory's, and a screened run's short fine-tunes
    spent = search_seconds + confirm.get("trial_seconds", 0.0)
    same_search = len(fast[0]["edges"]) == len(paper[0]["edges"])
    report = {
        "run": str(args.run), "paper_run": str(args.paper_run),
        "fit": {"seconds_per_epoch": f"{a:.2f} + {b:.3f} x MMACs", "r2": round(r2, 3), "trials": len(paper),
                **({"calibrated_by": round(scale, 3)} if calibrate else {}),
                **({"calibrated_to": str(args.calibrate_to)} if args.calibrate_to else {})},
        "check_step0": {"mmacs": round(step0["macs"] / 1e6, 2), "epochs": step0["epochs"],
                        "measured_seconds_per_epoch": round(step0["seconds"] / step0["epochs"], 1),
                        "fitted_seconds_per_epoch": round(fitted_step0, 1)},
        "cells_charged": len(fast),
        "projected_faithful_trial_seconds": {f"mean_epochs_{epochs_mean:.1f}": round(projected(epochs_mean)),
                                             f"max_epochs_{epochs_max}": round(projected(epochs_max))},
        # a faithful search of the same N was run: how far the projection lands from what it really spent, in all
        # and per cell (the per-cell cost is the model's; how many cells a faithful search trains is not)
        "measured_faithful": {
            "cells": len(paper), "trial_seconds": round(sum(r["seconds"] for r in paper)),
            "seconds_per_cell": round(sum(r["seconds"] for r in paper) / len(paper), 1),
            "projected_seconds_per_cell": round(projected(epochs_mean) / len(fast), 1),
            # where both searches ran to the end: the ratio itself, and how many cells each trained
            "cells_over_fast_cells": round(len(paper) / len(fast), 2),
            "ratio_faithful_over_fast": round(sum(r["seconds"] for r in paper) / spent, 1),
        } if same_search else None,
        "fast_trial_seconds": {"search": round(search_seconds),
                               "confirm": round(confirm.get("trial_seconds", 0.0)), "total": round(spent)},
        "ratio_faithful_over_fast": {f"mean_epochs_{epochs_mean:.1f}": round(projected(epochs_mean) / spent, 1),
                                     f"max_epochs_{epochs_max}": round(projected(epochs_max) / spent, 1)},
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
