"""What screening (``--screen-steps R --screen-top M``) does to a search, against the same search without it.

The full fine-tune a screened step gives its best M candidates is the very trial the unscreened search trains (same
key), so while both runs stand on the same parent, the unscreened run's trajectory holds every candidate's full
score: each such step shows where the unscreened winner ranked after R steps, whether it passed, what the screened
pick scores on the full fine-tune, and what the step cost both ways. Where the two runs part, each goes on alone;
their final cells and whole costs are compared at the end. ``--reference`` adds the paper's full schedule (the
mean S over the seeds of committed ``fidelity.py`` reports of the unscreened run) for the steps it measured.
Reads the runs' plain files only (trajectory.jsonl, summary.json), so committed result folders suffice.
Usage: python benchmarks/screening.py runs/fm8_screen benchmarks/results/fm8 [--reference R.json ...] [--out F]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from emit import emit  # benchmarks/emit.py
from fidelity import tau  # benchmarks/fidelity.py
from trajectory_diff import trials  # benchmarks/trajectory_diff.py

from shrinknas.run.rundir import SUMMARY, RunDir


def step_rows(run: Path) -> dict[int, dict[tuple, dict]]:
    """step -> {(parent's edges, removed edge): row}: the rows of each step, keyed so two runs' can be matched."""
    by_step: dict[int, dict[tuple, dict]] = {}
    for (step, parent, removed), row in trials(run).items():
        by_step.setdefault(step, {})[(parent, removed)] = row
    return by_step


def reference_means(reports: list[Path]) -> dict[int, list[float]]:
    """step -> mean S over a fidelity report's from-scratch seeds (its ``scratch*`` variants), per candidate in
    sampling order (the order of the step's rows in trajectory.jsonl)."""
    means: dict[int, list[float]] = {}
    for report in reports:
        for step in json.loads(report.read_text())["steps"]:
            seeds = [scores for name, scores in step["S"].items() if name.startswith("scratch")]
            means[step["step"]] = [statistics.fmean(column) for column in zip(*seeds)]
    return means


def compare_step(step: int, screened: list[dict], plain: dict[tuple, dict],
                 reference: dict[int, list[float]]) -> dict[str, Any]:
    """One step both runs took from the same parent: ``screened`` its rows in the screened run, ``plain`` the
    unscreened run's rows of that step by removed edge."""
    full = [plain[json.dumps(row["removed_edge"])] for row in screened]
    screen_scores = [row["screen_S"] if "screen_S" in row else row["S"] for row in screened]
    winner = next(i for i, row in enumerate(full) if row["kept"])
    pick = next(i for i, row in enumerate(screened) if row["kept"])
    order = sorted(range(len(screened)), key=lambda i: screen_scores[i], reverse=True)
    report: dict[str, Any] = {
        "step": step, "candidates": len(screened), "screened": "screen_S" in screened[0],
        "passed": [i for i, row in enumerate(screened) if not row.get("screened_out")],
        "unscreened_pick": winner, "its_rank_after_screening": order.index(winner) + 1,
        "screened_pick": pick, "same_pick": pick == winner,
        "S_lost_by_full_fine_tune": round(full[winner]["S"] - full[pick]["S"], 4),
        "tau_screen_vs_full_fine_tune": tau(screen_scores, [row["S"] for row in full]),
        "seconds": {"screened": round(sum(row["seconds"] + row.get("screen_seconds", 0.0) * (not row.get(
            "screened_out")) for row in screened), 1), "unscreened": round(sum(row["seconds"] for row in full), 1)},
    }
    refs = reference.get(step)
    if refs is not None and len(refs) == len(screened):
        report["full_schedule_mean_S"] = {"screened_pick": round(refs[pick], 4), "unscreened_pick":
                                          round(refs[winner], 4), "best": round(max(refs), 4)}
    return report


def final_cell(run: Path) -> dict[str, Any]:
    summary = RunDir(run).read_json(SUMMARY)
    best = summary["best"]
    finalists = (summary.get("confirm") or {}).get("finalists") or []
    fresh = next((f["S_fresh_mean"] for f in finalists if f["step"] == best["step"]), None)
    return {"step": best["step"], "edges": best["cell"]["edges"], "macs": best["macs"], "S_in_search": round(
        best["S"], 4), "S_fresh_mean": None if fresh is None else round(fresh, 4),
        "trials": summary["trials"], "trial_seconds": summary["trial_seconds"],
        "confirm_trial_seconds": (summary.get("confirm") or {}).get("trial_seconds"),
        "wall_seconds": summary["wall_seconds"]}


def compare(screened_run: Path, plain_run: Path, references: list[Path]) -> dict[str, Any]:
    screened, plain = step_rows(screened_run), step_rows(plain_run)
    reference = reference_means(references)
    steps = []
    for step in sorted(s for s in screened if s > 0):
        rows = list(screened[step].values())
        parent = next(iter(screened[step]))[0]
        theirs = {removed: row for (p, removed), row in plain.get(step, {}).items() if p == parent}
        if len(theirs) != len(rows) or any(row.get("from_scratch") for row in [*rows, *theirs.values()]):
            break  # the runs parted (or the step was re-trained from scratch, which screening does not touch)
        steps.append(compare_step(step, rows, theirs, reference))
    screened_steps = [s for s in steps if s["screened"]]
    shared = {"screened": sum(s["seconds"]["screened"] for s in steps),
              "unscreened": sum(s["seconds"]["unscreened"] for s in steps)}
    return {
        "screened_run": str(screened_run), "unscreened_run": str(plain_run),
        "shared_steps": len(steps), "screened_steps": len(screened_steps),
        "same_pick": sum(s["same_pick"] for s in screened_steps),
        "unscreened_pick_passed": sum(s["unscreened_pick"] in s["passed"] for s in screened_steps),
        "shared_steps_trial_seconds": {**{k: round(v, 1) for k, v in shared.items()},
                                       "ratio": round(shared["unscreened"] / max(shared["screened"], 1e-9), 2)},
        "final": {"screened": final_cell(screened_run), "unscreened": final_cell(plain_run)},
        "steps": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("screened", type=Path, help="a run with --screen-steps")
    parser.add_argument("unscreened", type=Path, help="the same search without it")
    parser.add_argument("--reference", type=Path, nargs="*", default=[],
                        help="fidelity.py reports of the unscreened run with from-scratch seeds")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    emit(compare(args.screened, args.unscreened, args.reference), args.out)


if __name__ == "__main__":
    main()
