import json

import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.genome.dag_cell import Topology
from shrinknas.nets.cnn import CellNetwork, MacroConfig, cell_network_spec, cifar_macro, imagenet_macro
from shrinknas.nets.registry import NetworkSpec, build_network, network_kind, network_kinds
from shrinknas.nets.rnn import LanguageModel, language_model_spec

CELL = Topology("cnn", ("input", "conv1x1", "sepconv3x3"), ((0, 1), (0, 2), (1, 2)))


def test_the_built_in_networks_are_registered():
    assert {"cnn-cell-network", "rnn-language-model"} <= set(network_kinds())


def test_a_spec_through_json_builds_the_same_network_for_the_same_seed():
    spec = cell_network_spec(CELL, cifar_macro(width_mult=0.25), 1, 4)
    again = NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    a, b, c = build_network(spec, seed=3), build_network(again, seed=3), build_network(spec, seed=4)
    assert isinstance(a, CellNetwork) and not a.training
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))


def test_building_leaves_the_callers_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    build_network(language_model_spec(Topology("rnn", ("tanh", "relu"), ((0, 1),)), 10, 4), seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_macro_configs_round_trip_through_json():
    for macro in (cifar_macro(2, 0.5, "swish"), imagenet_macro()):
        assert MacroConfig.from_dict(json.loads(json.dumps(macro.to_dict()))) == macro


def test_the_language_model_is_called_batch_first_with_plain_tensors():
    spec = language_model_spec(Topology("rnn", ("tanh", "relu", "sigmoid"), ((0, 1), (1, 2), (0, 2))), 11, 5)
    model = build_network(spec, seed=0)
    assert isinstance(model, LanguageModel)
    kind = network_kind(spec.builder)
    tokens, hidden = kind.example_inputs(model, (6,), 3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, next_hidden = kind.traceable(model)(tokens, hidden)
        reference = model(tokens.t(), hidden)
    assert logits.shape == (3, 6, 11) and next_hidden.shape == (3, 5)
    assert torch.equal(logits[1, 4], reference.logits.view(6, 3, 11)[4, 1])  # example 1, step 4
    assert torch.equal(next_hidden, reference.hidden)


@pytest.mark.parametrize(
    "spec",
    [
        NetworkSpec("no-such-network", {}),
        NetworkSpec("cnn-cell-network", {"cell": CELL.to_dict()}),
        NetworkSpec("cnn-cell-network", {"cell": CELL.to_dict(), "macro": {"depth": 3}, "in_channels": 1,
                                         "n_classes": 2}),
    ],
)
def test_a_spec_that_builds_nothing_is_a_one_line_error(spec):
    with pytest.raises(BadInputError) as info:
        build_network(spec)
    assert "\n" not in str(info.value)


def test_a_spec_must_name_a_builder_and_its_arguments():
    with pytest.raises(BadInputError):
        NetworkSpec.from_dict({"arguments": {}})
