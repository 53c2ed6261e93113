"""The confirm stage: finalists re-trained from scratch on fresh seeds, and the run that records its pick."""

import dataclasses
import json
import math

import pytest

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, ConfirmSettings, SearchSettings
from shrinknas.run.executors import SerialExecutor, evaluate_serially
from shrinknas.methods.autoshrink.records import search_progress, steps as kept_steps
from shrinknas.run.store import RunStore
from shrinknas.run.trial import TrialResult, TrialSpec, evaluate
from shrinknas.methods.autoshrink.loop import Candidate, autoshrink, derive_seed
from shrinknas.methods.autoshrink.confirm import confirm, confirm_seeds, finalists
from shrinknas.methods.autoshrink.run import run_autoshrink
from shrinknas.genome.dag_cell import Topology

TASK = ImageTask(dataset="digits", proxy_train=200, proxy_val=50,
                 training=ImageTraining(epochs=1, batch_size=64, finetune_steps=3))


def tiny(top: int = 0, seeds: int = 2) -> AutoShrinkConfig:
    return AutoShrinkConfig(search=SearchSettings(nodes=4, candidates=2, stop_edges=2, seed=3, protocol="inherit"),
                            task=TASK, confirm=ConfirmSettings(top=top, seeds=seeds))


@pytest.fixture(scope="module")
def searched():
    return autoshrink(tiny(), evaluate_serially)


def kept(step: int, edges: tuple, score: float, status: str = "ok") -> Candidate:
    cell = Topology("cnn", ("input", "conv1x1", "conv1x1", "conv1x1"), edges)
    return Candidate(step, None, cell, TrialResult(f"k{step}", status), score if status == "ok" else -math.inf)


def test_finalists_are_the_best_kept_cells_once_each_failed_ones_never():
    chosen = [kept(0, ((0, 1), (1, 2), (2, 3)), 0.5), kept(1, ((0, 1), (1, 3)), 0.7),
              kept(2, ((0, 3),), 0.7), kept(3, ((0, 1), (1, 3)), 0.6), kept(4, ((0, 2), (2, 3)), 0.9, "failed")]
    # best S first, fewer edges on ties; the cell kept twice (steps 1 and 3) is a finalist once
    assert [c.step for c in finalists(chosen, 3)] == [2, 1, 0]
    assert [c.step for c in finalists(chosen, 10)] == [2, 1, 0]


def test_finalists_are_trained_from_scratch_on_fresh_shared_seeds(searched):
    config = tiny(top=2, seeds=2)
    specs: list[TrialSpec] = []

    def recording(batch, on_result=None):
        specs.extend(batch)
        return evaluate_serially(batch, on_result)

    confirmed = confirm(config, searched.chosen, recording)
    seeds = confirm_seeds(config)
    search_seeds = {derive_seed(3, "trial", c.step) for c in searched.candidates}
    assert len(specs) == 4 and not set(seeds) & search_seeds
    assert all(s.parent is None and s.task == TASK.from_scratch() and s.task != TASK for s in specs)
    assert {s.seed for s in specs} == set(seeds) and all(f.seeds == tuple(seeds) for f in confirmed)
    # the cells are the two best kept ones, and each score is what its own training gives
    assert {f.candidate.topology for f in confirmed} == {c.topology for c in finalists(searched.chosen, 2)}
    first = confirmed[0]
    again = evaluate(TrialSpec(first.candidate.topology, TASK.from_scratch(), seeds[1]))
    assert again.metric("val_acc") == first.results[1].metric("val_acc")
    assert first.mean_score == pytest.approx(sum(first.scores) / 2)
    assert first.mean_score >= confirmed[1].mean_score


def test_a_finalist_that_fails_on_any_seed_is_never_the_pick(searched):
    config = tiny(top=2, seeds=2)
    best_by_search = finalists(searched.chosen, 1)[0].topology

    def failing_first(batch, on_result=None):
        results = evaluate_serially(batch)
        return [dataclasses.replace(r, status="failed", error="diverged") if s.genome == best_by_search and i == 1
                else r for i, (s, r) in enumerate(zip(batch, results))]

    confirmed = confirm(config, searched.chosen, failing_first)
    assert confirmed[-1].candidate.topology == best_by_search and confirmed[-1].mean_score == -math.inf
    assert math.isfinite(confirmed[0].mean_score)


def test_a_finished_run_is_confirmed_by_running_it_again_without_searching_again(tmp_path):
    executor = SerialExecutor(threads_per_trial=1)
    plain = run_autoshrink(tiny(), tmp_path, executor)
    assert "confirm" not in plain
    summary = run_autoshrink(tiny(top=2, seeds=2), tmp_path, executor)  # other confirm settings: same run
    assert summary["trials_trained"] == 4 and summary["trials_from_store"] == plain["trials"]
    finalists_ = summary["confirm"]["finalists"]
    assert len(finalists_) == 2 and finalists_[0]["S_fresh_mean"] >= finalists_[1]["S_fresh_mean"]
    assert summary["best"]["cell"] == finalists_[0]["cell"] == json.loads((tmp_path / "best_cell.json").read_text())
    assert summary["search_best"] == plain["best"]
    assert summary["confirm"]["seeds"] == confirm_seeds(tiny(top=2, seeds=2))
    with RunStore.read(tmp_path) as store:  # `runs ls/show` read the pick from the store, not summary.json
        progress, steps, found = store.progress(), kept_steps(store), search_progress(store)
    picked_step = next(row["step"] for row in steps if row["key"] == found.final_key)
    assert picked_step == finalists_[0]["step"] and found.final_score == finalists_[0]["S_fresh_mean"]
    assert found.confirm_trainings == 4 and progress.trials == plain["trials"] + 4
    # more seeds later: only the new seed's trainings run
    more = run_autoshrink(tiny(top=2, seeds=3), tmp_path, executor)
    assert more["trials_trained"] == 2
    # without the stage again: eq. (7)'s pick is the final cell, in the store as in the files
    again = run_autoshrink(tiny(), tmp_path, executor)
    with RunStore.read(tmp_path) as store:
        assert search_progress(store).final_key is None and search_progress(store).confirm_trainings == 0
    assert again["best"] == plain["best"] and "confirm" not in again
