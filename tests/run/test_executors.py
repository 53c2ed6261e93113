
import pytest

from shrinknas.errors import BadInputError
from shrinknas.run.executors import PoolExecutor, SerialExecutor, make_executor

import fake_trials
from fake_trials import attempts, make_specs


@pytest.fixture
def pool():
    with PoolExecutor(2, fn=fake_trials.seeded_trial, retries=1) as executor:
        yield executor


def _in_order(pairs):
    return [result for _, result in sorted(pairs, key=lambda pair: pair[0])]


def test_pool_gives_bit_equal_results_to_serial(pool):
    specs = make_specs(4)
    serial = _in_order(SerialExecutor(fake_trials.seeded_trial).map_unordered(specs))
    pooled = _in_order(pool.map_unordered(specs))
    assert [r.key for r in serial] == [s.key() for s in specs]
    assert [(r.key, r.metric("val_acc"), r.metric("params")) for r in pooled] == [(r.key, r.metric("val_acc"), r.metric("params")) for r in serial]
    assert {r.metric("params") for r in pooled} == {1}  # every executor trains with threads_per_trial torch threads
    assert len({r.metric("val_acc") for r in serial}) == 4


def test_pool_survives_a_worker_killed_mid_trial(marker_dir):
    specs = make_specs(3, marker_dir)
    with PoolExecutor(2, fn=fake_trials.dies_once_trial, retries=1) as executor:
        results = _in_order(executor.map_unordered(specs))
        assert all(r.ok for r in results), results
        fresh = make_specs(4, marker_dir)[3:]
        assert _in_order(executor.map_unordered(fresh))[0].ok  # the pool was rebuilt and still works
    assert [attempts(s) for s in specs] == [2, 2, 2]


def test_a_worker_death_is_charged_to_the_trial_that_caused_it(marker_dir):
    specs = make_specs(4, marker_dir)
    with PoolExecutor(2, fn=fake_trials.seed1_always_dies_trial, retries=1) as executor:
        results = _in_order(executor.map_unordered(specs))
    assert [r.ok for r in results] == [True, False, True, True]
    assert "worker process died" in results[1].error and "2 attempt(s)" in results[1].error
    # two charged attempts alone, after at most one uncharged attempt in flight with another trial
    assert attempts(specs[1]) in (2, 3)
    assert all(attempts(s) <= 2 for s in specs if s.seed != 1)


@pytest.mark.parametrize("make", [lambda fn: SerialExecutor(fn, retries=2), lambda fn: PoolExecutor(2, fn, retries=2)])
def test_a_raising_trial_is_retried_then_failed_with_its_reason(marker_dir, make):
    specs = make_specs(2, marker_dir)
    with make(fake_trials.raising_trial) as executor:
        results = _in_order(executor.map_unordered(specs))
    assert [r.status for r in results] == ["failed", "failed"]
    assert results[1].error == "ValueError: cannot build seed 1 (after 3 attempt(s))"
    assert [attempts(s) for s in specs] == [3, 3]


def test_a_transient_failure_is_retried_to_success(marker_dir):
    specs = make_specs(2, marker_dir)
    results = _in_order(SerialExecutor(fake_trials.flaky_trial, retries=1).map_unordered(specs))
    assert all(r.ok for r in results)
    assert [r.metric("val_acc") for r in results] == [fake_trials.seeded_trial(s).metric("val_acc") for s in specs]


def test_abandoning_a_batch_stops_the_trials_still_running(marker_dir):
    specs = make_specs(2, marker_dir)
    executor = PoolExecutor(2, fake_trials.seed1_sleeps_trial)
    batch = executor.map_unordered(specs)
    index, first = next(batch)
    assert (index, first.ok) == (0, True)
    processes = list(executor._pool._processes.values())
    batch.close()  # what Ctrl-C does to the batch: returns now, not after the minute-long trial
    assert processes and not any(p.is_alive() for p in processes)
    assert _in_order(executor.map_unordered(specs[:1]))[0].ok  # usable again with a fresh pool
    executor.close()


def test_bad_settings_are_one_line_errors():
    with pytest.raises(BadInputError, match="--workers must be 1 or more"):
        PoolExecutor(0)
    with pytest.raises(BadInputError, match="unknown executor 'threads'"):
        make_executor("threads")
    with pytest.raises(BadInputError, match="--ray-address 'nowhere' is not understood"):
        make_executor("ray", ray_address="nowhere")
    with pytest.raises(BadInputError, match="drop --workers or use --executor pool"):
        make_executor("serial", workers=2)
    assert isinstance(make_executor(), SerialExecutor)
    assert make_executor(workers=3).workers == 3
