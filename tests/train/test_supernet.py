"""DSO-NAS's supernet training: the split and its x:y alternation, which optimizer touches what, resuming from a
checkpoint to the same result, and divergence."""

from __future__ import annotations

import io

import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.train.common import Diverged
from shrinknas.train.supernet import SupernetSettings, parse_ratio, train_supernet

from dso_fixtures import trainer


def test_ratio_parsing_and_bad_ratios_are_one_line_errors():
    assert parse_ratio("4:1") == (4, 1) and parse_ratio("1:1") == (1, 1)
    for bad in ("0:1", "1:0", "1", "a:b", "1:2:3", "-1:1"):
        with pytest.raises(BadInputError, match="must be two whole numbers of at least 1") as info:
            parse_ratio(bad)
        assert "\n" not in str(info.value)
    with pytest.raises(BadInputError, match="0:1"):
        SupernetSettings(ratio=(0, 1))
    with pytest.raises(BadInputError, match="unknown budget"):
        SupernetSettings(budget="latency")


@pytest.mark.parametrize("ratio", [(1, 1), (4, 1)])
def test_a_search_epoch_alternates_x_weight_steps_with_y_factor_steps_over_both_parts(ratio):
    t = trainer(ratio=ratio, batch_size=8)
    first, second = t.split
    assert len(first) + len(second) == 240 and not set(first.tolist()) & set(second.tolist())
    assert len(first) == pytest.approx(240 * ratio[0] / sum(ratio), abs=10)  # class by class, rounded
    kinds = [kind for kind, _ in t.batches("search")]
    x, y = ratio
    assert kinds[: 2 * (x + y)] == (["weight"] * x + ["lambda"] * y) * 2
    assert kinds.count("weight") == -(-len(first) // 8) and kinds.count("lambda") == -(-len(second) // 8)
    assert set(kinds) == {"weight", "lambda"} and {k for k, _ in t.batches("pretrain")} == {"weight"}
    drawn = torch.cat([b for kind, b in t.batches("search") if kind == "lambda"])
    assert sorted(drawn.tolist()) == second.tolist()  # factor steps see the second part, all of it, once


def test_without_a_split_both_learn_on_every_image_from_one_pass():
    t = trainer(split=False)
    assert torch.equal(t.split[0], torch.arange(240)) and torch.equal(t.split[1], torch.arange(240))
    assert {kind for kind, _ in t.batches("search")} == {"joint"}
    entry = t.run_epoch("search")
    assert entry["weight_loss"] == entry["lambda_loss"] and entry["samples"] == 240


def test_pretraining_moves_weights_only_and_search_moves_both():
    t = trainer()
    factors = {k: p.detach().clone() for k, p in t.model.named_scaling_factors().items()}
    weights = [p.detach().clone() for p in t.model.weights()]
    entry = t.run_epoch("pretrain")
    assert all(torch.equal(p, factors[k]) for k, p in t.model.named_scaling_factors().items())
    assert any(not torch.equal(p, w) for p, w in zip(t.model.weights(), weights))
    assert entry["samples"] == len(t.split[0]) and "lambda_loss" not in entry
    entry = t.run_epoch("search")
    assert any(not torch.equal(p, factors[k]) for k, p in t.model.named_scaling_factors().items())
    assert {"weight_loss", "weight_acc", "lambda_loss", "lambda_acc", "live_lambdas", "kept_macs", "seconds"} <= set(entry)
    assert all(float(p.detach().min()) >= 0 for p in t.model.scaling_factors())  # APG-NAG's clamp


def test_op_bn_gamma_stays_one_and_gets_no_decay():
    t = trainer(weight_decay=0.1)
    fixed = [m.weight for m in t.model.modules() if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad]
    train_supernet(t, 1, 1)
    assert fixed and all(torch.equal(g, torch.ones_like(g)) for g in fixed)
    groups = t.weight_optimizer.param_groups
    assert all(p.ndim > 1 for p in groups[0]["params"]) and groups[1]["weight_decay"] == 0.0
    in_sgd = {id(p) for g in groups for p in g["params"]}
    assert not in_sgd & {id(p) for p in t.model.scaling_factors()} and not in_sgd & {id(g) for g in fixed}


def test_a_strong_penalty_prunes_and_the_epochs_report_it():
    t = trainer(gamma=0.5)
    history = train_supernet(t, 1, 3)
    assert history[0]["live_lambdas"] == history[0]["lambdas"]
    assert history[-1]["live_lambdas"] < history[0]["lambdas"]
    assert history[-1]["kept_macs"] < history[-1]["complete_macs"]
    assert history[-1]["kept_edges"] == list(t.derive().kept_edges)


def test_a_checkpoint_after_any_epoch_resumes_to_the_same_result():
    straight = trainer("full", gamma=0.2)
    expected = train_supernet(straight, 1, 3)
    first = trainer("full", gamma=0.2)
    train_supernet(first, 1, 1)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = trainer("full", gamma=0.2, init_seed=99)  # a fresh process: its own initial weights, overwritten
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    rest = train_supernet(resumed, 1, 3)
    assert [e["epoch"] for e in rest] == [2, 3]
    for got, want in zip(rest, expected[2:]):
        assert {k: v for k, v in got.items() if k != "seconds"} == {k: v for k, v in want.items() if k != "seconds"}
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.derive() == straight.derive()


def test_a_checkpoint_of_other_settings_is_refused():
    state = trainer(gamma=0.2).state_dict()
    with pytest.raises(BadInputError, match="other settings"):
        trainer(gamma=0.3).load_state_dict(state)


def test_a_non_finite_loss_raises_diverged_and_leaves_the_last_good_epoch():
    t = trainer()
    t.run_epoch("pretrain")
    t.images[t.split[1][0]] = float("nan")  # an image only factor steps see: the search diverges
    good = {k: v.clone() for k, v in t.model.state_dict().items()}
    with pytest.raises(Diverged, match="search epoch 1: the loss became nan; the trainer is back at the end of "
                                       "search epoch 0"):
        t.run_epoch("search")
    assert all(torch.equal(v, good[k]) for k, v in t.model.state_dict().items())
    assert t.epochs == {"pretrain": 1, "search": 0}
