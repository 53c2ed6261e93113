"""What screening (``--screen-steps R --screen-top M``) does to a search: its decisions, and its cost against the same
search without it.

Decisions: a screened step gives the full fine-tune to its best M candidates alone. ``fidelity.py RUN --budgets R B
--scratch-epochs 0`` on the screened run (B: the run's fine-tune steps) gives every candidate of those steps its full
fine-tune from the same parent (the passers' are read back from the run's store, the others trained), so each step
shows what the unscreened rule would have kept there: where that candidate ranked after R steps, whether it
passed, and the S the screened pick loses by the full fine-tune's own scores.
Cost: with ``--unscreened RUN``, the same search without screening (same settings, same kind of machine): trial and
wall seconds of both, per shrink step and in all, and their final cells. The two part at the first step where
screening kept another cell, so after that their steps are compared as the search's cost, not cell for cell.
Reads plain files only (trajectory.jsonl, summary.json, config.yaml and the report), so committed folders suffice.
Usage: python experiments/autoshrink/screening.py runs/fm8_screen [--completed R.json] [--unscreened runs/fm8_plain] [--out F]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from emit import emit  # experiments/autoshrink/emit.py
from fidelity import run_files, tau  # experiments/autoshrink/fidelity.py

from shrinknas.run.rundir import SUMMARY, RunDir
from shrinknas.methods.autoshrink.loop import preference, row_seconds


def step_rows(run: Path) -> dict[int, list[dict]]:
    """step -> its rows, in sampling order (the order fidelity.py reports a step's candidates in)."""
    by_step: dict[int, list[dict]] = {}
    for row in RunDir(run).read_trajectory():
        by_step.setdefault(row["step"], []).append(row)
    return by_step


def decision(rows: list[dict], full: list[float]) -> dict[str, Any]:
    """One screened step: ``rows`` its trajectory rows, ``full`` every candidate's S after the full fine-tune."""
    passed = [i for i, row in enumerate(rows) if not row["screened_out"]]
    screen = [row["screen_S"] if row["screen_S"] is not None else float("-inf") for row in rows]
    ranked = sorted(range(len(rows)), key=lambda i: preference(screen[i], rows[i]["n_edges"]), reverse=True)
    unscreened = max(range(len(rows)), key=lambda i: preference(full[i], rows[i]["n_edges"]))
    kept = next(i for i, row in enumerate(rows) if row["kept"])
    return {
        "step": rows[0]["step"], "candidates": len(rows), "passed": passed,
        "unscreened_pick": unscreened, "its_rank_after_screening": ranked.index(unscreened) + 1,
        "screened_pick": kept, "same_pick": kept == unscreened,
        "S_lost_by_full_fine_tune": round(full[unscreened] - full[kept], 4),
        "tau_screen_vs_full_fine_tune": tau(screen, full),
        # the report reads the passers' full fine-tunes back from the run: they must be the run's own numbers
        "passers_agree_with_run": all(abs(full[i] - rows[i]["S"]) < 1e-4 for i in passed),
    }


def decisions(run: Path, completed: Path) -> list[dict[str, Any]]:
    config, _ = run_files(run)
    full_name = f"finetune_{config.task.training.finetune_steps}"
    report = {s["step"]: s for s in json.loads(completed.read_text())["steps"]}
    rows = step_rows(run)
    return [decision(rows[step], report[step]["S"][full_name]) for step in sorted(report)
            if "screen_S" in rows[step][0] and not rows[step][0]["from_scratch"]]


def step_seconds(run: Path) -> dict[int, float]:
    """Trial seconds of each shrink step, screening fine-tunes included."""
    return {step: round(sum(map(row_seconds, rows)), 1) for step, rows in step_rows(run).items()}


def run_summary(run: Path) -> dict[str, Any]:
    summary = RunDir(run).read_json(SUMMARY)
    best = summary["best"]
    finalists = (summary.get("confirm") or {}).get("finalists") or []
    fresh = next((f["S_fresh_mean"] for f in finalists if f["step"] == best["step"]), None)
    seconds = step_seconds(run)
    return {"final_cell": {"step": best["step"], "edges": best["cell"]["edges"], "macs": best["macs"],
                           "S_in_search": round(best["S"], 4), "S_fresh_mean": None if fresh is None else round(fresh, 4)},
            "trials": summary["trials"], "steps": summary["steps"], "retrained_steps": summary["retrained_steps"],
            "step0_seconds": seconds.pop(0), "loop_trial_seconds": round(sum(seconds.values()), 1),
            "trial_seconds": summary["trial_seconds"],
            "confirm_trial_seconds": (summary.get("confirm") or {}).get("trial_seconds"),
            "wall_seconds": summary["wall_seconds"], "per_step_trial_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("screened", type=Path, help="a run with --screen-steps")
    parser.add_argument("--completed", type=Path, default=None,
                        help="fidelity.py's report on the screened run with its screen and full budgets (without "
                             "it, cost alone)")
    parser.add_argument("--unscreened", type=Path, default=None, help="the same search without screening")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    emit(report(args.screened, args.completed, args.unscreened), args.out)


def report(screened_run: Path, completed: Path | None = None, unscreened: Path | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"screened_run": str(screened_run), "screened": run_summary(screened_run)}
    if completed is not None:
        result.update(decisions_report(screened_run, completed))
    if unscreened is not None:
        plain = run_summary(unscreened)
        result["unscreened_run"], result["unscreened"] = str(unscreened), plain
        result["ratio_unscreened_over_screened"] = {
            k: round(plain[k] / result["screened"][k], 2) for k in ("loop_trial_seconds", "trial_seconds", "wall_seconds")}
    return result


def decisions_report(screened_run: Path, completed: Path) -> dict[str, Any]:
    steps = decisions(screened_run, completed)
    return {
        "completed_by": str(completed),
        "screened_steps": len(steps), "same_pick": sum(s["same_pick"] for s in steps),
        "unscreened_pick_passed": sum(s["unscreened_pick"] in s["passed"] for s in steps),
        # how many steps would keep the unscreened pick with each --screen-top (a full fine-tune is the same trial
        # whatever passes with it, so this follows from the ranks alone)
        "same_pick_with_screen_top": {m: sum(s["its_rank_after_screening"] <= m for s in steps)
                                      for m in range(1, max((s["candidates"] for s in steps), default=0) + 1)},
        "S_lost_by_full_fine_tune": {"mean": round(sum(s["S_lost_by_full_fine_tune"] for s in steps) / max(len(
            steps), 1), 4), "max": max((s["S_lost_by_full_fine_tune"] for s in steps), default=None)},
        "decisions": steps}


if __name__ == "__main__":
    main()
