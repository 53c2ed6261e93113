"""AutoShrink's bookkeeping in the store: the trial kept at every step, the best S, the confirm stage's pick."""

import dataclasses

import pytest

from shrinknas.methods.autoshrink.records import record_final, record_step, search_progress, steps
from shrinknas.run.store import RunStore
from shrinknas.run.trial import TrialResult

from fake_trials import make_specs

CONFIG = {"search": {"nodes": 4, "seed": 0}, "task": {"dataset": "digits", "epochs": 1}}


def _result(spec, acc=0.5, status="ok", error=None):
    return TrialResult(spec.key(), status, metrics={"val_acc": acc, "macs": 1000, "params": 10, "epochs": 2},
                       seconds=1.5, error=error)


def test_progress_counts_steps_and_the_best_score(tmp_path):
    specs = make_specs(3)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        for i, spec in enumerate(specs):
            store.put(spec, _result(spec, acc=i / 10))
        record_step(store, 0, specs[0].key(), 0.2)
        record_step(store, 1, specs[2].key(), 0.7)
        record_step(store, 2, specs[1].key(), float("-inf"))
        record_step(store, 1, specs[2].key(), 0.7)  # a replayed step rewrites, never duplicates
        progress = search_progress(store)
        kept = steps(store)
    assert progress.steps_done == 2  # steps 1 and 2 after step 0
    assert progress.best_score == 0.7 and progress.best_key == specs[2].key()
    assert progress.final_cell_key == specs[2].key() and progress.final_cell_score == 0.7
    assert [(row["step"], row["key"], row["score"]) for row in kept] == [
        (0, specs[0].key(), 0.2), (1, specs[2].key(), 0.7), (2, specs[1].key(), None)]
    assert kept[1]["val_acc"] == 0.2 and kept[1]["genome"] == specs[2].genome.to_dict()


def test_the_confirm_pick_is_the_final_cell_and_a_rerun_without_it_forgets_it(tmp_path):
    specs = make_specs(2)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        for spec in specs:
            store.put(spec, _result(spec))
        record_step(store, 0, specs[0].key(), 0.9)
        record_final(store, specs[1].key(), 0.4, trainings=4)
        confirmed = search_progress(store)
        record_final(store, None, None, trainings=0)
        forgotten = search_progress(store)
    assert (confirmed.final_cell_key, confirmed.final_cell_score, confirmed.confirm_trainings) == (specs[1].key(), 0.4, 4)
    assert (forgotten.final_cell_key, forgotten.final_cell_score, forgotten.confirm_trainings) == (specs[0].key(), 0.9, 0)


def test_weights_are_kept_for_kept_trials_only(tmp_path):
    """Inherit-protocol runs resume from the kept trials' weights; a kept trial's siblings (same parent, same step's
    seed) lose theirs, and later steps' finished trials keep theirs (a resume that replays the steps may keep one of
    them), also those trained from scratch like step 0, as a step re-trained by ``scratch_if_drop`` is."""
    from shrinknas.run.trial import ParentWeights, TrialSpec

    first, later = make_specs(2)  # from scratch, seeds 0 and 1: step 0 and a later step re-trained from scratch
    other = TrialSpec(first.genome.without(first.genome.edges[0]), first.task, first.seed)
    child = TrialSpec(first.genome, first.task, 7, parent=ParentWeights(first.key(), first.genome, b"w0"))
    sibling = TrialSpec(other.genome, first.task, 7, parent=child.parent)
    specs = (first, other, later, child, sibling)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        for spec, blob in zip(specs, (b"w0", b"w1", b"w4", b"w2", b"w3")):
            store.put(spec, dataclasses.replace(_result(spec), weights=blob))
        record_step(store, 0, first.key(), 0.5)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        found = store.get_many([s.key() for s in specs])
        assert [found[s.key()].weights for s in specs] == [b"w0", None, b"w4", b"w2", b"w3"]
        assert found[first.key()] == _result(first)  # weights are not part of a result's equality
        assert store.trial_rows()[3]["parent"] == first.key()
        record_step(store, 0, first.key(), 0.5)  # a resume replays the step: the next step's trials keep theirs
        record_step(store, 1, child.key(), 0.6)
        found = store.get_many([s.key() for s in specs])
        assert [found[s.key()].weights for s in specs] == [b"w0", None, b"w4", b"w2", None]


