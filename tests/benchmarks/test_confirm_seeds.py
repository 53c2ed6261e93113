"""README's one-seed confirm figures come from a committed report over the committed run folders; its pick rule
must be the confirm stage's own, and computing the report again must give it again."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
RESULTS = BENCHMARKS / "results"
sys.path.insert(0, str(BENCHMARKS))

import confirm_seeds  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

from shrinknas.methods.autoshrink.confirm import confirm_seeds as stage_seeds  # noqa: E402
from shrinknas.methods.autoshrink.config import AutoShrinkConfig  # noqa: E402


def test_the_committed_one_seed_report_is_what_the_run_folders_give() -> None:
    stored = json.loads((RESULTS / "confirm_seeds_1.json").read_text())
    assert json.loads(json.dumps(confirm_seeds.report(RESULTS, 1))) == stored
    assert stored["runs"] == len(stored["by_run"]) >= 20 and 0 < stored["same_pick"] < stored["runs"]


def test_with_every_seed_the_rule_picks_each_runs_final_cell() -> None:
    """The script ranks finalists as the stage does; otherwise its one-seed picks would be another rule's."""
    for run in json.loads((RESULTS / "confirm_seeds_1.json").read_text())["by_run"]:
        summary = json.loads((RESULTS / run / "summary.json").read_text())
        finalists = summary["confirm"]["finalists"]
        assert confirm_seeds.pick(finalists, len(finalists[0]["S_fresh"]))["cell"] == summary["best"]["cell"]


def test_a_one_seed_stage_uses_the_first_seed_of_a_two_seed_stage() -> None:
    """What makes the first recorded score of every finalist the score a one-seed stage would see."""
    def seeds(n: int) -> list[int]:
        return stage_seeds(AutoShrinkConfig.model_validate({"confirm": {"seeds": n}}))

    assert seeds(1) == seeds(2)[:1] and seeds(2) == seeds(3)[:2]
