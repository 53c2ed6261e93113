"""Training K candidates as one batched model is K separate fits: same losses, accuracies, stops, weights."""

import dataclasses
import math

import pytest
import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.data.images import proxy_data
from shrinknas.nets.batched import BatchedCellNetwork
from shrinknas.nets.cnn import build_proxy_network, proxy_macro
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.classify import FitResult, fit, fit_candidates
from shrinknas.train.common import Diverged, seed_everything

PARENT = Topology("cnn", ("input", "sepconv3x3", "conv1x1", "sepconv3x3", "conv1x1"),
                  ((0, 1), (1, 2), (0, 3), (1, 3), (2, 4), (3, 4)))
# an unreachable pair of nodes, two new leaves with identity residuals, a node losing an input
CELLS = [PARENT.without(e) for e in [(0, 1), (2, 4), (3, 4), (1, 3)]]
SEED = 5


def task(**training) -> ImageTask:
    """Narrow on purpose (stem 16, widths 8/16/32; two leaves still match the stem): float64 convolutions are slow."""
    return ImageTask(dataset="digits", proxy_train=100, proxy_val=50, stem_channels=16, base_width=8,
                     training=ImageTraining(**{"epochs": 2, "batch_size": 32, **training}))


def splits(t: ImageTask, dtype: torch.dtype):
    data = proxy_data(t)
    return dataclasses.replace(data, train_x=data.train_x.to(dtype), val_x=data.val_x.to(dtype))


def build(cell: Topology, t: ImageTask, dtype: torch.dtype) -> torch.nn.Module:
    seed_everything(SEED)  # as run.trial does: every candidate of a step starts from the step's seed
    return build_proxy_network(cell, t, 1, 10).to(dtype)


def separately(t: ImageTask, dtype: torch.dtype, poisoned: int | None = None):
    outcomes, nets = [], []
    for k, cell in enumerate(CELLS):
        net = poison(build(cell, t, dtype)) if k == poisoned else build(cell, t, dtype)
        try:
            outcomes.append(fit(net, splits(t, dtype), t.training, SEED))
        except Diverged as exc:
            outcomes.append(exc)
        nets.append(net)
    return outcomes, nets


def together(t: ImageTask, dtype: torch.dtype, poisoned: int | None = None):
    nets = [poison(build(c, t, dtype)) if k == poisoned else build(c, t, dtype) for k, c in enumerate(CELLS)]
    model = BatchedCellNetwork(CELLS, proxy_macro(t), 1, 10)
    model.load(nets)
    model.to(dtype)
    finished = []

    def keep(k, outcome):
        finished.append(k)
        model.extract(k, nets[k])

    outcomes = fit_candidates(model, len(CELLS), splits(t, dtype), t.training, SEED, on_finish=keep)
    assert sorted(finished) == list(range(len(CELLS)))
    return outcomes, nets


def poison(net: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        net.classifier.bias.fill_(float("nan"))
    return net


def assert_same_fits(alone, batched, rtol):
    for a, b in zip(alone, batched):
        assert isinstance(a, FitResult) and isinstance(b, FitResult)
        assert (a.epochs, a.best_val_acc) == (b.epochs, b.best_val_acc)
        assert [h["val_acc"] for h in a.history] == [h["val_acc"] for h in b.history]
        for ha, hb in zip(a.history, b.history):
            assert math.isclose(ha["train_loss"], hb["train_loss"], rel_tol=rtol)


def assert_same_weights(alone, batched, rtol, atol):
    for a, b in zip(alone, batched):
        for name, tensor in a.state_dict().items():
            torch.testing.assert_close(b.state_dict()[name], tensor, rtol=rtol, atol=atol, msg=name)


def test_float64_batched_training_is_each_separate_fit():
    # float64 keeps rounding from being amplified: the two paths must agree to many digits, epoch by epoch,
    # including which epoch each candidate stops at and its weights at that moment
    t = task(epochs=4, patience=1)
    alone, alone_nets = separately(t, torch.float64)
    batched, batched_nets = together(t, torch.float64)
    assert len({r.epochs for r in alone}) > 1, "the test needs candidates that stop at different epochs"
    assert_same_fits(alone, batched, rtol=1e-9)
    assert_same_weights(alone_nets, batched_nets, rtol=1e-7, atol=1e-9)


def test_float32_losses_match_separate_training():
    # one full batch per epoch: every logged loss is one step's loss
    t = task(epochs=3, batch_size=100)
    alone, _ = separately(t, torch.float32)
    batched, _ = together(t, torch.float32)
    for a, b in zip(alone, batched):
        for ha, hb in zip(a.history, b.history):
            assert math.isclose(ha["train_loss"], hb["train_loss"], rel_tol=1e-4)
        assert abs(a.best_val_acc - b.best_val_acc) <= 1 / 50 + 1e-12


def test_a_diverging_candidate_fails_alone_and_the_others_go_on():
    t = task(epochs=2)
    alone, _ = separately(t, torch.float64, poisoned=2)
    batched, _ = together(t, torch.float64, poisoned=2)
    assert isinstance(alone[2], Diverged) and isinstance(batched[2], Diverged)
    assert str(batched[2]) == str(alone[2])
    assert_same_fits(alone[:2] + alone[3:], batched[:2] + batched[3:], rtol=1e-9)


@pytest.mark.parametrize("candidates", [1, 3])
def test_fit_candidates_counts_outcomes(candidates):
    t = task(epochs=1)
    model = BatchedCellNetwork(CELLS[:candidates], proxy_macro(t), 1, 10)
    model.load([build(c, t, torch.float32) for c in CELLS[:candidates]])
    outcomes = fit_candidates(model, candidates, proxy_data(t), t.training, SEED)
    assert len(outcomes) == candidates and all(o.epochs == 1 for o in outcomes)
