"""``reevaluate.py`` (experiments/autoshrink/) judges a published results folder (config.yaml and summary.json,
no store) again: the cells it re-trains are the run's own, on the task the run searched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.run.executors import SerialExecutor
from shrinknas.methods.autoshrink.run import run_autoshrink

SCRIPTS = Path(__file__).resolve().parents[2] / "experiments" / "autoshrink"
sys.path.insert(0, str(SCRIPTS))

import reevaluate  # noqa: E402  (experiments/autoshrink/ is a folder of scripts, not a package)


def test_a_results_folder_without_its_store_is_judged_on_fresh_seeds(tmp_path, monkeypatch):
    config = AutoShrinkConfig(
        search=SearchSettings(nodes=3, candidates=2, stop_edges=1, seed=4, protocol="paper"),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=40, training=ImageTraining(epochs=1, batch_size=50)),
    )
    run = tmp_path / "run"
    summary = run_autoshrink(config, run, SerialExecutor(threads_per_trial=1))
    (run / "trials.sqlite").unlink()
    out = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", ["reevaluate.py", str(run), "--seeds", "2", "--workers", "1",
                                      "--with-complete", "--out", str(out)])
    reevaluate.main()
    report = json.loads(out.read_text())
    rows = {row["which"]: row for row in report["cells"]}
    assert set(rows) == {"best", "complete"}
    for which, found in (("best", summary["best"]), ("complete", summary["complete_dag"])):
        row = rows[which]
        assert row["cell"] == found["cell"] and row["macs"] == found["macs"] and row["S_in_search"] == round(found["S"], 4)
        assert len(row["S_fresh"]) == 2  # one training per fresh seed
    # the seeds are distinct (two trainings of a tiny cell may still round to the same S on some CPUs)
    assert len(set(report["seeds"])) == 2 and not set(report["seeds"]) & {config.search.seed}
