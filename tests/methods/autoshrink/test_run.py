"""The run-directory side of a search: what a finished run gives back to scripts that study it."""

import sqlite3

import pytest

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.run.executors import SerialExecutor
from shrinknas.run.store import RunStore
from shrinknas.errors import BadInputError, ShrinkNASError
from shrinknas.methods.autoshrink.run import replay, run_autoshrink, stored_config, written_config
from shrinknas.methods.autoshrink.records import steps as kept_steps


def tiny(protocol: str) -> AutoShrinkConfig:
    return AutoShrinkConfig(
        search=SearchSettings(nodes=3, candidates=2, stop_edges=1, seed=4, protocol=protocol),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=40,
                       training=ImageTraining(epochs=1, batch_size=50, finetune_steps=24)),  # given: not fitted
    )


def test_a_finished_run_gives_back_the_settings_it_was_started_with(tmp_path):
    config = tiny("inherit")
    run_autoshrink(config, tmp_path, SerialExecutor(threads_per_trial=1))
    with RunStore.read(tmp_path) as store:
        assert stored_config(store) == config
    assert written_config(tmp_path) == config  # config.yaml alone, as in a published results folder


def test_a_corrupt_written_config_is_one_line_naming_the_file(tmp_path):
    run_autoshrink(tiny("paper"), tmp_path, SerialExecutor(threads_per_trial=1))
    (tmp_path / "config.yaml").write_text("search:\n  nodes: many\n")
    with pytest.raises(BadInputError, match=r"config.yaml: search.nodes"):
        written_config(tmp_path)


@pytest.mark.parametrize("protocol", ["inherit", "paper"])
def test_replaying_a_finished_run_gives_its_trajectory_without_training(tmp_path, protocol):
    summary = run_autoshrink(tiny(protocol), tmp_path, SerialExecutor(threads_per_trial=1))
    config, replayed = replay(tmp_path)
    assert config == tiny(protocol)
    assert len(replayed.candidates) == summary["trials"] >= 3
    assert replayed.best.score == summary["best"]["S"]
    assert replayed.best.topology.to_dict() == summary["best"]["genome"]
    assert sum(c.result.seconds for c in replayed.candidates) == pytest.approx(summary["trial_seconds"], abs=1e-3)


def test_replaying_a_run_whose_store_lacks_a_trial_is_an_error_not_a_training(tmp_path):
    run_autoshrink(tiny("paper"), tmp_path, SerialExecutor(threads_per_trial=1))
    with sqlite3.connect(tmp_path / "trials.sqlite") as conn:
        conn.execute("DELETE FROM trials WHERE rowid = (SELECT max(rowid) FROM trials)")
    with pytest.raises(ShrinkNASError, match="lacks 1 trial"):
        replay(tmp_path)


def test_a_run_stopped_after_steps_retrained_from_scratch_resumes_from_their_weights(tmp_path):
    """Steps 1, 4 and 5 of this search collapse and are re-trained from scratch. Stopped before steps 4 and 5 were
    recorded, the resume replays step 1 (a from-scratch keeper like step 0) and must still find step 4's weights."""
    config = AutoShrinkConfig(
        search=SearchSettings(nodes=4, candidates=3, protocol="inherit", scratch_if_drop=0.1),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=50, training=ImageTraining(epochs=1, batch_size=64)),
    )
    finished = run_autoshrink(config, tmp_path, SerialExecutor(threads_per_trial=1))
    with RunStore.read(tmp_path) as store:
        rescued = [row["step"] for row in kept_steps(store) if row["step"] > 0 and row["parent"] is None]
    assert len(rescued) >= 2, "the test needs two re-trained steps"
    with sqlite3.connect(tmp_path / "trials.sqlite") as conn:  # as if stopped before the last ones were recorded
        conn.execute("DELETE FROM records WHERE kind = 'step' AND idx >= ?", (rescued[1],))
    resumed = run_autoshrink(config, tmp_path, SerialExecutor(threads_per_trial=1))
    assert resumed["trials_trained"] == 0 and resumed["best"] == finished["best"]
