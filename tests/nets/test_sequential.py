"""A sequential genome builds the network it describes: the genome's counts are the module's."""

import pytest
import torch

from shrinknas.genome import LayerSequence, genome_from_dict
from shrinknas.genome.layer_seq import Layer, conv7
from shrinknas.nets.registry import NetworkSpec, build_network, network_kind, network_kinds
from shrinknas.nets.sequential import build_sequential, estimate_size, sequential_spec
from shrinknas.resources import count

MIXED = LayerSequence((3, 13, 11), 6, (
    Layer.conv(5, 7, 2, 0), Layer("sigmoid"), Layer.pool("maxpool", 3, 1, 1), Layer("dropout"),
    Layer.conv(1, 9), Layer("bn"), Layer("relu"), Layer.pool("avgpool", 2),
    Layer.linear(20), Layer("bn"), Layer("dropout"), Layer("relu"), Layer.linear(6)))


@pytest.mark.parametrize("genome", [conv7(), MIXED], ids=["conv7", "mixed"])
def test_counts_and_shapes_are_the_built_modules(genome):
    torch.manual_seed(0)
    model = build_sequential(genome)
    counts = count(model, genome.input)
    params, activations = estimate_size(genome)
    assert params == counts.params == genome.params()
    assert genome.macs() == counts.macs
    seen = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape[1:])))
             for m in model if not isinstance(m, torch.nn.Flatten)]
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, *genome.input))
    for hook in hooks:
        hook.remove()
    assert logits.shape == (2, genome.classes)
    assert seen == list(genome.shapes())
    assert activations == sum(torch.Size(shape).numel() for shape in seen)


def test_bn_after_the_flatten_is_one_dimensional_and_trains():
    model = build_sequential(MIXED)
    assert isinstance(model[-4], torch.nn.BatchNorm1d) and isinstance(model[5], torch.nn.BatchNorm2d)
    assert sum(isinstance(m, torch.nn.Flatten) for m in model) == 1
    loss = model(torch.randn(4, 3, 13, 11)).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_the_issue_example_builds():
    genome = genome_from_dict({"kind": "sequential", "input": [1, 28, 28], "classes": 10, "layers": [
        {"type": "conv", "kernel": 3, "out": 64, "stride": 1, "padding": 1}, {"type": "bn"}, {"type": "relu"},
        {"type": "maxpool", "kernel": 2, "stride": 2}, {"type": "linear", "out": 10}]})
    assert count(build_sequential(genome), (1, 28, 28)).params == genome.params() == 640 + 128 + 64 * 14 * 14 * 10 + 10


def test_the_network_registry_rebuilds_a_sequential_network_from_its_json():
    spec = NetworkSpec.from_dict(sequential_spec(MIXED).to_dict())
    assert "sequential" in network_kinds()
    first, second = build_network(spec, seed=3), build_network(spec, seed=3)
    assert count(first, MIXED.input).params == MIXED.params()
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    (inputs,) = network_kind("sequential").example_inputs(first, MIXED.input, 2, torch.Generator().manual_seed(0))
    assert first(inputs).shape == (2, MIXED.classes)
