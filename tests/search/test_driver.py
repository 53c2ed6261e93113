"""The run-directory side of a search: what a finished run gives back to scripts that study it."""

from shrinknas.config import AutoShrinkConfig, ImageTask, ImageTraining, SearchSettings
from shrinknas.run.executors import SerialExecutor
from shrinknas.run.store import RunStore
from shrinknas.search.driver import run_autoshrink, stored_config


def test_a_finished_run_gives_back_the_settings_it_was_started_with(tmp_path):
    config = AutoShrinkConfig(
        search=SearchSettings(nodes=3, candidates=2, stop_edges=2, seed=4, protocol="inherit"),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=40, training=ImageTraining(epochs=1, batch_size=50)),
    )
    run_autoshrink(config, tmp_path, SerialExecutor(threads_per_trial=1))
    with RunStore.read(tmp_path) as store:
        assert stored_config(store) == config
