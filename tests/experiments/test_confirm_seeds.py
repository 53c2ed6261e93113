"""``confirm_seeds.py`` (experiments/autoshrink/) reads what a confirm stage with fewer fresh seeds would have picked
from finished runs: its pick rule must be the stage's own, on the first seeds of the recorded scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, ConfirmSettings, SearchSettings
from shrinknas.run.executors import SerialExecutor
from shrinknas.methods.autoshrink.confirm import confirm_seeds as stage_seeds
from shrinknas.methods.autoshrink.run import run_autoshrink

SCRIPTS = Path(__file__).resolve().parents[2] / "experiments" / "autoshrink"
sys.path.insert(0, str(SCRIPTS))

import confirm_seeds  # noqa: E402  (experiments/autoshrink/ is a folder of scripts, not a package)


def confirmed_run(folder: Path) -> dict:
    config = AutoShrinkConfig(
        search=SearchSettings(nodes=4, candidates=2, stop_edges=2, seed=3, protocol="inherit"),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=50,
                       training=ImageTraining(epochs=1, batch_size=64, finetune_steps=3)),
        confirm=ConfirmSettings(top=2, seeds=2),
    )
    return run_autoshrink(config, folder, SerialExecutor(threads_per_trial=1))


def test_a_confirmed_runs_pick_with_fewer_seeds_is_read_from_its_summary(tmp_path):
    summary = confirmed_run(tmp_path / "results" / "deep" / "run")
    (tmp_path / "results" / "unconfirmed").mkdir()
    (tmp_path / "results" / "unconfirmed" / "summary.json").write_text(json.dumps({"best": summary["best"]}))
    report = confirm_seeds.report(tmp_path / "results", 1)
    assert report["runs"] == 1 and list(report["by_run"]) == ["deep/run"]  # found at any depth; no stage, no row
    finalists = summary["confirm"]["finalists"]
    assert len(finalists) == 2 and all(len(f["S_fresh"]) == 2 for f in finalists)
    # with every seed the script's rule picks the run's final cell: it ranks finalists as the stage does
    assert confirm_seeds.pick(finalists, 2)["cell"] == summary["best"]["cell"]
    first_seed = max(finalists, key=lambda f: (f["S_fresh"][0], -len(f["cell"]["edges"])))
    row = report["by_run"]["deep/run"]
    assert row["pick_step"] == next(f["step"] for f in finalists if f["cell"] == summary["best"]["cell"])
    assert row["fewer_seeds_pick_step"] == first_seed["step"]
    assert row["same_pick"] == (first_seed["cell"] == summary["best"]["cell"])


def test_a_one_seed_stage_uses_the_first_seed_of_a_two_seed_stage() -> None:
    """What makes the first recorded score of every finalist the score a one-seed stage would see."""
    def seeds(n: int) -> list[int]:
        return stage_seeds(AutoShrinkConfig.model_validate({"confirm": {"seeds": n}}))

    assert seeds(1) == seeds(2)[:1] and seeds(2) == seeds(3)[:2]
