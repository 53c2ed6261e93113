"""Against a real local Ray cluster (2 CPUs), started once for this module."""

import os

import pytest

pytest.importorskip("ray")

from shrinknas.run.executors import RayExecutor, SerialExecutor
from shrinknas.run.runner import TrialRunner
from shrinknas.run.store import RunStore

import fake_trials
from conftest import worker_pythonpath
from fake_trials import attempts, make_specs


@pytest.fixture(scope="module")
def ray_cluster():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", worker_pythonpath())  # the cluster's workers inherit it
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        executor = RayExecutor("local", fake_trials.seeded_trial, retries=1, num_cpus=2)
        list(executor.map_unordered(make_specs(1)))  # the cluster starts on first use
        try:
            yield executor
        finally:
            executor.close()


def test_ray_gives_bit_equal_results_to_serial_through_the_runner(ray_cluster, tmp_path):
    specs = make_specs(3)
    with RunStore.open(tmp_path, "autoshrink", {}) as store:
        results = TrialRunner(store, ray_cluster).run(specs)
        assert len(store.results()) == 3
    serial = [r for _, r in sorted(SerialExecutor(fake_trials.seeded_trial).map_unordered(specs))]
    assert [(r.key, r.val_acc, r.params) for r in results] == [(r.key, r.val_acc, r.params) for r in serial]


def test_a_task_whose_worker_is_killed_is_retried_by_ray(ray_cluster, marker_dir):
    specs = make_specs(2, marker_dir)
    executor = RayExecutor("local", fake_trials.dies_once_trial, retries=1)  # joins the running cluster
    results = [r for _, r in sorted(executor.map_unordered(specs))]
    assert all(r.ok for r in results), results
    assert [attempts(s) for s in specs] == [2, 2]
    assert [r.val_acc for r in results] == [fake_trials.seeded_trial(s).val_acc for s in specs]


def test_a_task_that_keeps_raising_is_recorded_as_failed(ray_cluster, marker_dir):
    spec = make_specs(1, marker_dir)[0]
    executor = RayExecutor("local", fake_trials.raising_trial, retries=1)
    [(index, result)] = list(executor.map_unordered([spec]))
    assert result.status == "failed"
    assert result.error == "ValueError: cannot build seed 0 (after 2 attempt(s))"
    assert attempts(spec) == 2
