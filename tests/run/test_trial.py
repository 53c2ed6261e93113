import dataclasses

import pytest
import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig
from shrinknas.run.batch import batch_key
from shrinknas.genome.dag_cell import edges_cut_off
from shrinknas.run.trial import ParentWeights, TrialResult, TrialSpec, evaluate, weights_from_bytes
from shrinknas.methods.autoshrink.loop import derive_seed, initial_cell
from shrinknas.genome.dag_cell import Topology

CELL = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3"))


def tiny(**training) -> ImageTask:
    return ImageTask(dataset="digits", proxy_train=200, proxy_val=50,
                     training=ImageTraining(epochs=1, batch_size=64, **training))


def test_trial_is_a_pure_function_of_its_spec():
    spec = TrialSpec(CELL, tiny(), seed=3)
    a, b = evaluate(spec), evaluate(spec)
    assert a.ok and a.metric("val_acc") == b.metric("val_acc") and a.metric("macs") == b.metric("macs") and a.key == spec.key()
    assert TrialResult.from_dict(a.to_dict()) == a


def test_key_depends_on_cell_settings_and_seed():
    base = TrialSpec(CELL, tiny(), 0)
    assert base.key() == TrialSpec(Topology.from_json(CELL.to_json()), tiny(), 0).key()
    assert base.key() != TrialSpec(CELL, tiny(), 1).key()
    assert base.key() != TrialSpec(CELL, tiny(lr=1e-3), 0).key()
    assert base.key() != TrialSpec(CELL.without((0, 1)), tiny(), 0).key()


def test_diverging_candidate_is_a_failed_trial_with_its_reason():
    result = evaluate(TrialSpec(CELL, tiny(lr=1e12), 0))
    assert result.status == "failed" and result.error.startswith("diverged")


def test_exception_becomes_a_failed_trial():
    result = evaluate(TrialSpec(CELL, tiny().model_copy(update={"device": "cuda:7"}), 0))
    assert result.status == "failed" and "cuda" in result.error.lower()


def test_settings_added_later_keep_stored_trial_keys_at_their_neutral_default():
    # the key a Fashion-MNIST N=5 search stored for its complete DAG before finetune_schedule and path_dropout existed
    config = AutoShrinkConfig.model_validate({"search": {"nodes": 5}, "task": {"task": "cnn", "dataset": "fashion-mnist"}})
    spec = TrialSpec(initial_cell(config), config.task, derive_seed(0, "trial", 0))
    assert spec.key() == "7c919d0ce85b9948f21d1aa931d922a38a172a5d"
    for changed in ({"finetune_schedule": "cosine"}, {"path_dropout": 0.1}, {"finetune_steps_per_cut_edge": 8},
                    {"finetune_max_steps": 48}):
        training = config.task.training.model_copy(update=changed)
        other = TrialSpec(spec.genome, config.task.model_copy(update={"training": training}), spec.seed)
        assert other.key() != spec.key()


def test_cut_edges_train_alone_not_in_a_batched_model():
    assert batch_key(TrialSpec(CELL, tiny(), 0)) is not None
    assert batch_key(TrialSpec(CELL, tiny(path_dropout=0.2), 0)) is None


def test_from_scratch_resets_every_inherit_only_setting_and_keys_like_the_paper_protocol():
    fast = tiny(finetune_steps=7, finetune_lr=1e-2, finetune_schedule="cosine", path_dropout=0.2, leaf_handover=True,
                finetune_steps_per_cut_edge=5, finetune_max_steps=20, lr=1e-3)
    scratch = fast.from_scratch()
    assert scratch == tiny(lr=1e-3)  # the shared setting stays, every inherit-only one is back at its default
    assert TrialSpec(CELL, scratch, 0).key() == TrialSpec(CELL, tiny(lr=1e-3), 0).key()


def test_a_removal_that_cuts_off_edges_fine_tunes_for_the_budget_the_rule_gives_it():
    base = tiny(finetune_steps=2)
    trained = evaluate(TrialSpec(CELL, base, 1, keep_weights=True))
    parent = ParentWeights(trained.key, CELL, trained.weights)

    def fine_tuned(cell: Topology, **training) -> dict[str, torch.Tensor]:
        task = base.model_copy(update={"training": base.training.model_copy(update={"epochs": 3, **training})})
        result = evaluate(TrialSpec(cell, task, 2, parent=parent, keep_weights=True))
        assert result.ok, result.error
        return weights_from_bytes(result.weights)

    def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    cut, kept = CELL.without((0, 1)), CELL.without((1, 2))  # node 1 left without input takes 1->2 with it
    assert (edges_cut_off(CELL, cut), edges_cut_off(CELL, kept)) == (1, 0)
    grown = fine_tuned(cut, finetune_steps_per_cut_edge=3)
    assert same(grown, fine_tuned(cut, finetune_steps=5))  # 2 + 3 per edge cut off
    assert not same(grown, fine_tuned(cut))
    assert same(fine_tuned(cut, finetune_steps_per_cut_edge=3, finetune_max_steps=4), fine_tuned(cut, finetune_steps=4))
    assert same(fine_tuned(kept, finetune_steps_per_cut_edge=3), fine_tuned(kept))


def test_a_cap_below_the_fine_tune_budget_is_refused():
    with pytest.raises(ValueError, match="finetune_max_steps"):
        ImageTraining(finetune_steps=24, finetune_max_steps=12)


def test_a_fine_tune_resumed_from_its_screening_pause_is_the_same_trial():
    """The pause of a shorter fine-tune of the same cell and parent gives the full fine-tune's outcome exactly,
    weights included; a pause of another trial is refused (a failed trial), never silently used."""
    parent = evaluate(TrialSpec(CELL, tiny(), 0, keep_weights=True))
    weights = ParentWeights(parent.key, CELL, parent.weights)
    child, task = CELL.without((0, 1)), tiny(finetune_steps=3)
    short_task = task.model_copy(update={"training": task.training.model_copy(update={"finetune_steps": 1})})
    short = evaluate(TrialSpec(child, short_task, 7, parent=weights, keep_pause=True))
    assert short.ok and short.paused is not None and short.weights is None
    full = TrialSpec(child, task, 7, parent=weights, keep_weights=True)
    straight, resumed = evaluate(full), evaluate(dataclasses.replace(full, resume=short.paused))
    assert resumed.key == straight.key == full.key()
    assert (resumed.metric("val_acc"), resumed.metric("epochs"), resumed.metric("macs")) == (straight.metric("val_acc"), straight.metric("epochs"), straight.metric("macs"))
    assert resumed.weights == straight.weights
    other = TrialSpec(CELL.without((1, 2)), task, 7, parent=weights, resume=short.paused)
    refused = evaluate(other)
    assert refused.status == "failed" and "another trial" in refused.error
