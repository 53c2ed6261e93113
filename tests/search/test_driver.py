"""The run-directory side of a search: what a finished run gives back to scripts that study it."""

import sqlite3

import pytest

from shrinknas.config import AutoShrinkConfig, ImageTask, ImageTraining, SearchSettings
from shrinknas.run.executors import SerialExecutor
from shrinknas.run.store import RunStore
from shrinknas.errors import ShrinkNASError
from shrinknas.search.driver import replay, run_autoshrink, stored_config


def tiny(protocol: str) -> AutoShrinkConfig:
    return AutoShrinkConfig(
        search=SearchSettings(nodes=3, candidates=2, stop_edges=1, seed=4, protocol=protocol),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=40, training=ImageTraining(epochs=1, batch_size=50)),
    )


def test_a_finished_run_gives_back_the_settings_it_was_started_with(tmp_path):
    config = tiny("inherit")
    run_autoshrink(config, tmp_path, SerialExecutor(threads_per_trial=1))
    with RunStore.read(tmp_path) as store:
        assert stored_config(store) == config


@pytest.mark.parametrize("protocol", ["inherit", "paper"])
def test_replaying_a_finished_run_gives_its_trajectory_without_training(tmp_path, protocol):
    summary = run_autoshrink(tiny(protocol), tmp_path, SerialExecutor(threads_per_trial=1))
    config, replayed = replay(tmp_path)
    assert config == tiny(protocol)
    assert len(replayed.candidates) == summary["trials"] >= 3
    assert replayed.best.score == summary["best"]["S"]
    assert replayed.best.topology.to_dict() == summary["best"]["cell"]
    assert sum(c.result.seconds for c in replayed.candidates) == pytest.approx(summary["trial_seconds"], abs=1e-3)


def test_replaying_a_run_whose_store_lacks_a_trial_is_an_error_not_a_training(tmp_path):
    run_autoshrink(tiny("paper"), tmp_path, SerialExecutor(threads_per_trial=1))
    with sqlite3.connect(tmp_path / "trials.sqlite") as conn:
        conn.execute("DELETE FROM trials WHERE rowid = (SELECT max(rowid) FROM trials)")
    with pytest.raises(ShrinkNASError, match="lacks 1 trial"):
        replay(tmp_path)
