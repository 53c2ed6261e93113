"""README's screening figures come from a committed report; computing it again from the committed run folders and
the committed fidelity report must give them again, and its rules must be those of the search."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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


def test_a_step_keeps_the_unscreened_pick_exactly_when_that_pick_passed_screening() -> None:
    """The kept cell is the best full fine-tune among the passers, so it is the unscreened pick if and only if the
    unscreened pick passed; and nothing screened out was ever kept."""
    for s in screening.decisions(RESULTS / "fm8_screen", RESULTS / "fidelity_fm8_screen.json"):
        assert s["same_pick"] == (s["unscreened_pick"] in s["passed"])
        assert s["screened_pick"] in s["passed"] and len(s["passed"]) == min(3, s["candidates"])
        assert s["S_lost_by_full_fine_tune"] == 0 if s["same_pick"] else s["S_lost_by_full_fine_tune"] >= 0
