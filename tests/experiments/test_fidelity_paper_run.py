"""``fidelity.py`` (experiments/autoshrink/) on a faithful (paper-protocol) run: its kept cells are trained
again as the parents of the fine-tunes, and its own from-scratch trials are the reference, read back rather than
trained."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.run.executors import SerialExecutor
from shrinknas.run.store import RunStore
from shrinknas.run.trial import ParentWeights
from shrinknas.methods.autoshrink.run import replay, run_autoshrink, stored_config
from shrinknas.genome.dag_cell import Topology
from shrinknas.methods.autoshrink.records import steps as kept_steps

SCRIPTS = Path(__file__).resolve().parents[2] / "experiments" / "autoshrink"
sys.path.insert(0, str(SCRIPTS))

import fidelity  # noqa: E402  (experiments/autoshrink/ is a folder of scripts, not a package)


def faithful_run(folder: Path, protocol: str = "paper") -> Path:
    config = AutoShrinkConfig(
        search=SearchSettings(nodes=4, candidates=3, stop_edges=3, seed=2, protocol=protocol),
        task=ImageTask(dataset="digits", proxy_train=400, proxy_val=80,
                       training=ImageTraining(epochs=4, batch_size=50, early_exit_acc=0.0, finetune_steps=3)),
    )
    run_autoshrink(config, folder, SerialExecutor(threads_per_trial=1))
    return folder


def test_a_paper_runs_steps_are_ranked_by_fine_tunes_against_its_own_scratch_trials(tmp_path, monkeypatch):
    run = faithful_run(tmp_path / "run")
    out = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", ["fidelity.py", str(run), "--steps", "1", "2", "--budgets", "3",
                                      "--scratch-epochs", "4", "--scratch-seeds", "1", "--workers", "1",
                                      "--out", str(out)])
    fidelity.main()  # exits if a parent trained again does not give the run's own numbers
    report = json.loads(out.read_text())
    _, searched = replay(run)
    with RunStore.read(run) as store:  # the from-scratch side is the run's own trials: read back, never trained
        config = stored_config(store)
        parents = {row["step"] + 1: ParentWeights(row["key"], Topology.from_dict(row["genome"]), b"")
                   for row in kept_steps(store)}
        for step in (1, 2):
            _, labelled = fidelity.step_specs(config, step, fidelity.Variants((3,), 4, scratch_seeds=1), None,
                                              parents[step])
            scratch = [spec.key() for name, _, spec in labelled if name == "scratch"]
            assert len(store.get_many(scratch)) == len(scratch) == 3
    for row in report["steps"]:
        own = [c for c in searched.candidates if c.step == row["step"]]
        # the reference is the run's own from-scratch trials, in the run's sampling order
        assert row["S"]["scratch"] == [round(c.score, 5) for c in own]
        assert row["val_acc"]["scratch"] == [c.result.metric("val_acc") for c in own]
        # read back, not trained again: trained again they would score the same, but not in the same seconds
        assert row["scratch_seconds"] == round(sum(c.result.seconds for c in own), 1)
        # the fine-tunes are trained here, from the parent trained again: other numbers than from scratch
        assert len(row["val_acc"]["finetune_3"]) == len(own) and row["val_acc"]["finetune_3"] != row["val_acc"]["scratch"]
        assert "kendall_tau_vs_scratch" in row["variants"]["finetune_3"]


def test_a_parent_that_does_not_train_again_to_the_runs_numbers_stops_the_script(tmp_path, monkeypatch):
    run = faithful_run(tmp_path / "run")
    with sqlite3.connect(run / "trials.sqlite") as conn:  # step 0's trial, as if another machine had trained it
        conn.execute("UPDATE trials SET metrics = json_set(metrics, '$.val_acc', 0.5) WHERE key = "
                     "(SELECT json_extract(value, '$.key') FROM records WHERE kind = 'step' AND idx = 0)")
    monkeypatch.setattr(sys, "argv", ["fidelity.py", str(run), "--steps", "1", "--budgets", "3",
                                      "--scratch-epochs", "4", "--scratch-seeds", "1", "--workers", "1"])
    with pytest.raises(SystemExit, match="step 0's cell trained again gave val_acc"):
        fidelity.main()


def test_a_fast_runs_step_is_ranked_against_a_faithful_runs_files_without_training(tmp_path, monkeypatch):
    """Step 1 stands on the same parent in both searches (the complete DAG): the fast run's own fine-tunes are read
    back from its store, the faithful run's from-scratch trials from its trajectory alone (a run still going, or a
    published folder, has no summary or store to offer)."""
    fast, faithful = faithful_run(tmp_path / "fast", "inherit"), faithful_run(tmp_path / "faithful")
    for name in ("summary.json", "trials.sqlite"):
        (faithful / name).unlink()
    out = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", ["fidelity.py", str(fast), "--steps", "1", "--budgets", "3",
                                      "--reference", str(faithful), "--workers", "1", "--out", str(out)])
    fidelity.main()
    (row,) = json.loads(out.read_text())["steps"]
    _, fast_search = replay(fast)
    faithful_rows = [r for r in map(json.loads, (faithful / "trajectory.jsonl").read_text().splitlines())
                     if r["step"] == 1]
    assert row["val_acc"]["finetune_3"] == [c.result.metric("val_acc") for c in fast_search.candidates if c.step == 1]
    assert row["val_acc"]["scratch"] == [r["val_acc"] for r in faithful_rows]
    assert row["scratch_seconds"] == round(sum(r["seconds"] for r in faithful_rows), 1)
    # the fine-tunes come back from the fast run's store too, in the seconds they took there
    assert row["variants"]["finetune_3"]["seconds"] == round(sum(c.result.seconds for c in fast_search.candidates
                                                                 if c.step == 1), 1)
