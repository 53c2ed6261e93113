import pytest

from shrinknas.run.executors import PoolExecutor, SerialExecutor
from shrinknas.run.runner import TrialRunner
from shrinknas.run.store import RunStore

import fake_trials
from fake_trials import attempts, make_specs

CONFIG = {"search": {"seed": 0}}


class CountingTrial:
    """An in-process trial that remembers what it was asked to train."""

    def __init__(self, stop_at_seed: int | None = None) -> None:
        self.seeds: list[int] = []
        self.stop_at_seed = stop_at_seed

    def __call__(self, spec):
        if spec.seed == self.stop_at_seed:
            raise KeyboardInterrupt
        self.seeds.append(spec.seed)
        return fake_trials.seeded_trial(spec)


def test_stored_keys_are_read_back_and_duplicates_trained_once(tmp_path):
    specs = make_specs(4)
    trial = CountingTrial()
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        runner = TrialRunner(store, SerialExecutor(trial))
        first = runner.run(specs[:2])
        batch = [specs[3], specs[0], specs[3], specs[1], specs[2]]
        told = {}
        second = runner(batch, on_result=lambda index, result: told.setdefault(index, result))
    assert trial.seeds == [0, 1, 3, 2]
    assert [r.key for r in second] == [s.key() for s in batch]
    assert second[1] == first[0] and second[0] == second[2]
    assert told == dict(enumerate(second))
    assert (runner.counts.trained, runner.counts.reused) == (4, 2)


def test_an_interrupted_batch_keeps_what_finished_and_resumes_with_the_rest(tmp_path):
    specs = make_specs(4)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        with pytest.raises(KeyboardInterrupt):
            TrialRunner(store, SerialExecutor(CountingTrial(stop_at_seed=2))).run(specs)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        assert {r.key for r in store.results()} == {specs[0].key(), specs[1].key()}
        created = {row["key"]: row["created"] for row in store.trial_rows()}
        resumed_trial = CountingTrial()
        resumed = TrialRunner(store, SerialExecutor(resumed_trial)).run(specs)
        assert resumed_trial.seeds == [2, 3]
        assert all(created[row["key"]] == row["created"] for row in store.trial_rows() if row["key"] in created)
    uninterrupted = [r for _, r in SerialExecutor(fake_trials.seeded_trial).map_unordered(specs)]
    assert resumed == uninterrupted


def test_each_result_is_committed_as_it_finishes(tmp_path, marker_dir):
    """Ctrl-C while one trial runs for a minute: the one that finished is already in SQLite, and it stops now."""
    specs = make_specs(2, marker_dir)
    seen, workers = [], []

    def interrupt_after_first(index, result):
        with RunStore.read(tmp_path) as other_connection:
            seen.append([r.key for r in other_connection.results()])
        workers.extend(pool._pool._processes.values())  # one of them is in the minute-long trial
        raise KeyboardInterrupt

    pool = PoolExecutor(2, fake_trials.seed1_sleeps_trial)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store, pool:
        with pytest.raises(KeyboardInterrupt):
            TrialRunner(store, pool).run(specs, on_result=interrupt_after_first)
        assert workers and not any(p.is_alive() for p in workers)  # stopped by the runner, not left to the pool's close
    assert seen == [[specs[0].key()]]
    assert attempts(specs[1]) <= 1  # started at most once (under load it may not have started), never retried


class FailingOnce:
    """Fails every spec the first time it sees it with ``error``, then trains it: a failure that did not recur."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.seen: list[int] = []

    def __call__(self, spec):
        self.seen.append(spec.seed)
        if self.seen.count(spec.seed) == 1:
            return fake_trials.TrialResult(spec.key(), "failed", error=self.error)
        return fake_trials.seeded_trial(spec)


def test_resuming_retrains_failures_that_may_not_recur_and_replaces_their_records(tmp_path):
    specs = make_specs(2)
    trial = FailingOnce("ImportError: cannot import name 'x' (the package was upgraded under the run)")
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        runner = TrialRunner(store, SerialExecutor(trial))
        assert all(r.status == "failed" for r in runner.run(specs))
        again = runner.run(specs)
        assert trial.seen == [0, 1, 0, 1]
        assert all(r.ok for r in again)
        assert {r.key: r.status for r in store.results()} == {s.key(): "ok" for s in specs}
        assert runner.run(specs) == again and trial.seen == [0, 1, 0, 1]  # ok results are never retrained


def test_resuming_reuses_a_divergence_since_the_same_spec_diverges_again(tmp_path):
    specs = make_specs(1)
    trial = FailingOnce("diverged: loss became nan in epoch 2")
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        runner = TrialRunner(store, SerialExecutor(trial))
        first = runner.run(specs)
        assert runner.run(specs) == first and trial.seen == [0]
        assert first[0].status == "failed"
