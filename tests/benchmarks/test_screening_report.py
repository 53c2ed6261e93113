"""README's screening figures come from a committed report; computing it again from the committed run folders and
the committed fidelity report must give them again, and its rules must be those of the search."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
RESULTS = BENCHMARKS / "results"
sys.path.insert(0, str(BENCHMARKS))

import screening  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def test_the_committed_screening_report_is_what_its_inputs_give() -> None:
    stored = json.loads((RESULTS / "screening_fm8.json").read_text())
    fresh = json.loads(json.dumps(screening.report(RESULTS / "fm8_screen", RESULTS / "fidelity_fm8_screen.json",
                                                   RESULTS / "fm8_plain")))
    for key in ("screened_run", "completed_by", "unscreened_run"):
        stored.pop(key), fresh.pop(key)  # where the folders were when it ran
    assert fresh == stored


def test_every_passer_of_the_run_scores_in_the_report_as_in_the_run() -> None:
    """The completing report read the passers' full fine-tunes back from the run's store, not trained them again:
    the same trials, so the same S. Otherwise the report would rank another search's numbers."""
    steps = screening.decisions(RESULTS / "fm8_screen", RESULTS / "fidelity_fm8_screen.json")
    assert len(steps) == 21 and all(s["passers_agree_with_run"] for s in steps)


def test_a_step_keeps_the_best_full_fine_tune_among_its_passers() -> None:
    """The run kept, at every screened step, the passer whose full fine-tune (as the completing report measured it)
    scored best; so it kept the unscreened pick if and only if that pick passed, and never a screened-out cell."""
    report = {s["step"]: s for s in json.loads((RESULTS / "fidelity_fm8_screen.json").read_text())["steps"]}
    for s in screening.decisions(RESULTS / "fm8_screen", RESULTS / "fidelity_fm8_screen.json"):
        full = report[s["step"]]["S"]["finetune_24"]
        assert len(s["passed"]) == min(3, s["candidates"])
        assert s["screened_pick"] == max(s["passed"], key=lambda i: full[i])
        assert s["same_pick"] == (s["unscreened_pick"] in s["passed"])


@pytest.mark.parametrize(("report", "screened", "unscreened"), [
    ("screening_fm8_seed1_cost.json", "fm8_screen_seed1/screen", "fm8_screen_seed1/plain"),
    ("screening_fm8_seed1_top5_cost.json", "fm8_screen_seed1/top5", "fm8_screen_seed1/plain"),
    ("screening_fm8_top5_cost.json", "fm8_screen_top5", "fm8_plain"),
])
def test_the_committed_cost_only_reports_are_what_their_run_folders_give(report: str, screened: str,
                                                                        unscreened: str) -> None:
    """Reports without a completing fidelity report: cost and final cells alone, from the two run folders."""
    stored = json.loads((RESULTS / report).read_text())
    fresh = json.loads(json.dumps(screening.report(RESULTS / screened, None, RESULTS / unscreened)))
    for key in ("screened_run", "unscreened_run"):
        stored.pop(key), fresh.pop(key)
    assert fresh == stored and "decisions" not in fresh
    # a passer's screening seconds count: the screened run's fine-tuned steps cost more than their rows' seconds
    rows = screening.step_rows(RESULTS / screened)
    assert fresh["screened"]["per_step_trial_seconds"]["1"] > round(sum(r["seconds"] for r in rows[1]), 1)
