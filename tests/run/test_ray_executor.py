"""Against a real local Ray cluster (2 CPUs), started once for this module."""

import json

import pytest

pytest.importorskip("ray")

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.run.executors import RayExecutor
from shrinknas.run.store import RunStore
from shrinknas.methods.autoshrink.run import run_autoshrink

import fake_trials
from conftest import worker_pythonpath
from fake_trials import attempts, make_specs

pytestmark = pytest.mark.slow

TINY = AutoShrinkConfig(
    search=SearchSettings(nodes=3, candidates=2, seed=4),
    task=ImageTask(dataset="digits", proxy_train=200, proxy_val=40, training=ImageTraining(epochs=1, batch_size=64)),
)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    markers = tmp_path_factory.mktemp("ray-markers")
    with pytest.MonkeyPatch.context() as env:  # the cluster's worker processes inherit these
        env.setenv("PYTHONPATH", worker_pythonpath())
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("SHRINKNAS_TEST_MARKERS", str(markers))
        executor = RayExecutor("local", fake_trials.first_call_dies_then_evaluate, retries=2, num_cpus=2)
        try:
            yield executor, markers
        finally:
            executor.close()


def _outcomes(run_dir):
    with RunStore.read(run_dir) as store:
        return {r["key"]: (r["status"], r["val_acc"], r["macs"], r["params"]) for r in store.trial_rows()}


def test_a_search_completes_when_a_ray_worker_is_killed_and_matches_serial(ray_cluster, tmp_path):
    executor, markers = ray_cluster
    on_ray = run_autoshrink(TINY, tmp_path / "ray", executor)
    assert (markers / "killed").exists()  # one worker process really died, and Ray ran its task again
    serial = run_autoshrink(TINY, tmp_path / "serial")
    assert _outcomes(tmp_path / "ray") == _outcomes(tmp_path / "serial")
    assert all(status == "ok" for status, *_ in _outcomes(tmp_path / "ray").values())
    assert on_ray["best"] == serial["best"]
    assert json.loads((tmp_path / "ray" / "best_cell.json").read_text()) == serial["best"]["cell"]


def test_a_task_that_keeps_raising_is_recorded_as_failed(ray_cluster, marker_dir):
    spec = make_specs(1, marker_dir)[0]
    executor = RayExecutor("local", fake_trials.raising_trial, retries=1)  # joins the running cluster
    [(index, result)] = list(executor.map_unordered([spec]))
    assert result.status == "failed"
    assert result.error == "ValueError: cannot build seed 0 (after 2 attempt(s))"
    assert attempts(spec) == 2
