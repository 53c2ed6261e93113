"""The torch-pruning baseline: a network pruned to a parameter count, as a genome that rebuilds it."""

import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.genome.layer_seq import Layer, LayerSequence, conv_stack
from shrinknas.methods.compress.pruning import prune_to_params
from shrinknas.nets.sequential import build_sequential
from shrinknas.resources import count_params

STACK = conv_stack((16, 16, 32), (1, 2, 1), (1, 8, 8), 10)
WITH_HIDDEN = LayerSequence((3, 10, 10), 5, (
    Layer.conv(3, 24), Layer("bn"), Layer("sigmoid"), Layer.pool("maxpool", 2), Layer.conv(3, 24), Layer("relu"),
    Layer("dropout"), Layer.linear(40), Layer("bn"), Layer("relu"), Layer.linear(5)))


def _model(genome):
    torch.manual_seed(0)
    return build_sequential(genome)


@pytest.mark.parametrize("genome", [STACK, WITH_HIDDEN], ids=["stack", "hidden-linear"])
def test_pruning_lands_just_under_the_target_and_the_genome_is_the_pruned_network(genome):
    model = _model(genome)
    target = genome.params() // 4
    pruned = prune_to_params(model, genome, target)
    assert 0.8 * target <= pruned.params() <= target
    assert count_params(model) == pruned.params() == count_params(build_sequential(pruned))
    assert pruned.layers[-1] == genome.layers[-1] and [l.type for l in pruned.layers] == [l.type for l in genome.layers]
    model.eval()
    assert model(torch.randn(2, *genome.input)).shape == (2, genome.classes)
    widths = [l.out for l in pruned.layers[:-1] if l.type in ("conv", "linear")]
    original = [l.out for l in genome.layers[:-1] if l.type in ("conv", "linear")]
    assert all(1 <= w < o for w, o in zip(widths, original))


def test_local_pruning_cuts_every_layer_alike():
    pruned = prune_to_params(_model(STACK), STACK, STACK.params() // 4, global_pruning=False)
    ratios = [p.out / o.out for p, o in zip(pruned.layers, STACK.layers) if o.type == "conv"]
    assert max(ratios) - min(ratios) < 0.15


def test_targets_it_cannot_meet_are_one_line():
    with pytest.raises(BadInputError, match="not below"):
        prune_to_params(_model(STACK), STACK, STACK.params())
    with pytest.raises(BadInputError, match="larger target"):
        prune_to_params(_model(STACK), STACK, 100)
