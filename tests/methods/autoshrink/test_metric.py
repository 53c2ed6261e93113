import math

import pytest

from shrinknas.config import ImageTask, TextTask
from shrinknas.methods.autoshrink.config import SearchSettings
from shrinknas.run.trial import TrialResult
from shrinknas.methods.autoshrink.metric import score
from shrinknas.genome.dag_cell import Topology

CELL = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3"))


def test_cnn_score_is_accuracy_minus_lambda_log_macs():
    r = TrialResult("k", "ok", metrics={"val_acc": 0.8, "macs": 20_000_000, "params": 100_000})
    assert score(r, CELL, ImageTask(), SearchSettings()) == pytest.approx(0.8 - 0.1 * math.log10(20))
    by_params = score(r, CELL, ImageTask(), SearchSettings(resource="params", lam=0.5))
    assert by_params == pytest.approx(0.8 - 0.5 * math.log10(0.1))


def test_rnn_score_is_the_authors_form():
    cell = Topology.complete("rnn", ("tanh",) * 6)  # 15 edges
    r = TrialResult("k", "ok", metrics={"val_ppl": 150.0, "params": 1})
    expected = 0.25 * (200 - 150) - (math.log10(15 * 100**2) - 6)
    assert score(r, cell, TextTask(hidden=100), SearchSettings(lam=1.0, resource="params")) == pytest.approx(expected)


def test_failed_trial_never_wins():
    assert score(TrialResult("k", "failed", error="x"), CELL, ImageTask(), SearchSettings()) == -math.inf
