"""Trials of one step evaluated as one batched model report what evaluating them one by one reports."""

import logging

import pytest

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.data.images import proxy_data
from shrinknas.nets.cnn import build_proxy_network
from shrinknas.run.batch import BatchedExecutor, batch_groups, batch_key, evaluate_batch, evaluate_batched
from shrinknas.run.runner import TrialRunner
from shrinknas.run.store import RunStore
from shrinknas.run.trial import ParentWeights, TrialSpec, evaluate, weights_from_bytes
from shrinknas.methods.autoshrink.loop import autoshrink
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.classify import accuracy

PARENT = Topology("cnn", ("input", "sepconv3x3", "conv1x1", "sepconv3x3", "conv1x1"),
                  ((0, 1), (1, 2), (0, 3), (1, 3), (2, 4), (3, 4)))
CELLS = [PARENT.without(e) for e in [(0, 1), (2, 4), (3, 4), (1, 3)]]


def tiny(**training) -> ImageTask:
    return ImageTask(dataset="digits", proxy_train=200, proxy_val=50, stem_channels=16, base_width=8,
                     training=ImageTraining(**{"epochs": 2, "batch_size": 64, **training}))


def assert_like_evaluate(batched, alone):
    for b, a in zip(batched, alone):
        assert b.ok and a.ok
        assert (b.key, b.metric("epochs"), b.metric("macs"), b.metric("params")) == (a.key, a.metric("epochs"), a.metric("macs"), a.metric("params"))
        assert abs(b.metric("val_acc") - a.metric("val_acc")) <= 1 / 50 + 1e-12  # float32 rounding: at most one example


def test_batched_step_reports_what_one_by_one_reports(caplog):
    specs = [TrialSpec(cell, tiny(), seed=3) for cell in CELLS]
    assert len({batch_key(s) for s in specs}) == 1
    with caplog.at_level(logging.WARNING, logger="shrinknas.run.batch"):
        batched = evaluate_batch(specs)
    assert not caplog.records
    assert_like_evaluate(batched, [evaluate(s) for s in specs])


def test_candidates_fine_tuning_a_parent_keep_their_trained_weights():
    task = tiny()
    data = proxy_data(task)
    trained_parent = evaluate(TrialSpec(PARENT, task, seed=1, keep_weights=True))
    parent = ParentWeights(trained_parent.key, PARENT, trained_parent.weights)
    specs = [TrialSpec(cell, task, seed=2, parent=parent, keep_weights=True) for cell in CELLS]
    results = evaluate_batch(specs)
    assert_like_evaluate(results, [evaluate(s) for s in specs])
    for spec, result in zip(specs, results):  # one fine-tuning epoch: the weights kept score val_acc
        net = build_proxy_network(spec.genome, task, data.in_channels, data.n_classes)
        net.load_state_dict(weights_from_bytes(result.weights))
        assert accuracy(net, data.val_x, data.val_y) == result.metric("val_acc")


def test_candidates_given_a_longer_fine_tune_batch_apart_and_still_report_what_evaluate_reports():
    task = tiny(finetune_steps=2, finetune_steps_per_cut_edge=1)
    trained_parent = evaluate(TrialSpec(PARENT, task, seed=1, keep_weights=True))
    parent = ParentWeights(trained_parent.key, PARENT, trained_parent.weights)
    specs = [TrialSpec(cell, task, seed=2, parent=parent) for cell in CELLS]  # (0, 1) cuts off 3 more edges
    assert [len(g) for g in batch_groups(specs)] == [1, 3]
    assert_like_evaluate(evaluate_batched(specs), [evaluate(s) for s in specs])


def test_executor_groups_specs_by_seed_and_keeps_their_order():
    specs = [TrialSpec(cell, tiny(epochs=1), seed=i % 2) for i, cell in enumerate(CELLS)]
    seen = []
    results = evaluate_batched(specs, on_result=lambda i, r: seen.append(i))
    assert batch_groups(specs) == [[0, 2], [1, 3]]
    assert seen == [0, 2, 1, 3]  # trained a seed's batch at a time, each result told as its batch finished
    assert [r.key for r in results] == [s.key() for s in specs]  # handed back in the order asked
    assert_like_evaluate(results, [evaluate(s) for s in specs])


def test_a_batch_that_cannot_train_falls_back_to_one_by_one(caplog):
    task = tiny().model_copy(update={"device": "cuda:7"})
    with caplog.at_level(logging.WARNING, logger="shrinknas.run.batch"):
        results = evaluate_batch([TrialSpec(cell, task, seed=0) for cell in CELLS[:2]])
    assert "one by one" in caplog.text
    assert all(r.status == "failed" and "cuda" in r.error.lower() for r in results)



@pytest.mark.parametrize("leaf_handover", [False, True])
def test_a_whole_search_runs_on_the_batched_executor(caplog, leaf_handover):
    # every shape a search meets: new leaves, unreachable nodes, a cell emptied to its input, single candidates
    config = AutoShrinkConfig(search=SearchSettings(nodes=4, candidates=3, protocol="inherit"),
                              task=tiny(epochs=1, leaf_handover=leaf_handover))
    with caplog.at_level(logging.WARNING, logger="shrinknas.run.batch"):
        result = autoshrink(config, evaluate_batched)
    assert not caplog.records, "a batch fell back to one-by-one training"
    assert result.stopped_early is None and result.chosen[-1].topology.edges == ()
    assert all(c.ok for c in result.candidates)


def test_groups_follow_batch_keys_in_chunks():
    specs = [TrialSpec(cell, tiny(), seed=i % 2) for i, cell in enumerate(CELLS)]
    assert batch_groups(specs) == [[0, 2], [1, 3]]
    assert batch_groups(specs, max_batch=1) == [[0], [2], [1], [3]]


def test_the_runner_stores_batched_trials_and_reads_them_back(tmp_path):
    specs = [TrialSpec(cell, tiny(epochs=1), seed=0) for cell in CELLS[:3]]
    with RunStore.open(tmp_path, "autoshrink", {"search": {"seed": 0}}) as store:
        runner = TrialRunner(store, BatchedExecutor(max_batch=2))
        first = runner.run(specs)
        again = runner.run(specs[::-1])
    assert [r.key for r in first] == [s.key() for s in specs] and all(r.ok for r in first)
    assert again == first[::-1]
    assert (runner.counts.trained, runner.counts.reused) == (3, 3)
