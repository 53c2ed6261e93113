"""Baseline: structured channel pruning of a sequential network to a parameter count, with torch-pruning.

Channels go by the group L1 norm of their weights (torch-pruning's ``GroupMagnitudeImportance(p=1)``; Li et
al.'s filter pruning), ranked across all layers at once, at the ratio that brings the count just under the
target; the classifier's outputs are never pruned. Give it the trained teacher: the weights decide which
channels, and so how many in each layer, survive.

The result is a genome (the pruned widths), so the baseline is retrained from scratch with the same recipe as
the compressed networks and the teacher: the comparison is between architectures, at equal training. The module
passed in is pruned in place, for a prune-then-fine-tune variant.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ...errors import BadInputError
from ...genome.layer_seq import Layer, LayerSequence
from ...resources import count_params


def prune_to_params(model: nn.Module, genome: LayerSequence, target_params: int, global_pruning: bool = True,
                    max_ratio: float = 0.9, tries: int = 10) -> LayerSequence:
    """Prune ``model`` (built from ``genome``) in place to at most ``target_params`` parameters; the genome of
    the pruned network. The pruning ratio is bisected in [0, ``max_ratio``] (``tries`` one-shot prunings of
    copies), so the count lands just under the target; torch-pruning 1.6 stops pruning groups that reach its
    ``max_pruning_ratio``, so ratios near 1 give larger networks, not smaller ones. ``global_pruning``: rank channels across layers (torch-pruning normalises each
    group's importance), else prune every layer by the same ratio."""
    if count_params(model) != genome.params():
        raise ValueError("the model is not the genome's network")
    if target_params >= genome.params():
        raise BadInputError(f"the target {target_params} params is not below the network's {genome.params()}")

    def pruned_at(ratio: float, network: nn.Module) -> int:
        _prune(network, genome, ratio, global_pruning, max_ratio)
        return count_params(network)

    if pruned_at(max_ratio, copy.deepcopy(model)) > target_params:
        raise BadInputError(f"pruning {max_ratio:.0%} of the channels does not reach {target_params} params; give "
                            "a larger target")
    low, high = 0.0, max_ratio  # high always reaches the target
    for _ in range(tries):
        middle = (low + high) / 2
        if pruned_at(middle, copy.deepcopy(model)) <= target_params:
            high = middle
        else:
            low = middle
    pruned_at(high, model)
    return pruned_genome(model, genome)


def _prune(model: nn.Module, genome: LayerSequence, ratio: float, global_pruning: bool, max_ratio: float) -> None:
    """One-shot group-L1 pruning of ``ratio`` of the channels (the classifier's outputs kept)."""
    import torch_pruning as tp

    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    was_training = model.training
    model.eval()  # tracing runs a forward pass; BN must not update its statistics
    example = torch.zeros(2, *genome.input, device=next(model.parameters()).device)
    pruner = tp.pruner.BasePruner(
        model, example, importance=tp.importance.GroupMagnitudeImportance(p=1), global_pruning=global_pruning,
        pruning_ratio=ratio, max_pruning_ratio=max_ratio, ignored_layers=[classifier])
    pruner.step()
    model.train(was_training)


def pruned_genome(model: nn.Module, genome: LayerSequence) -> LayerSequence:
    """``genome`` with the conv and linear widths ``model`` has now (its layers in order)."""
    widths = [m.out_channels if isinstance(m, nn.Conv2d) else m.out_features
              for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    parametric = [i for i, layer in enumerate(genome.layers) if layer.type in ("conv", "linear")]
    if len(widths) != len(parametric):
        raise ValueError("the model's conv and linear layers are not the genome's")
    layers = list(genome.layers)
    for i, width in zip(parametric, widths):
        old = layers[i]
        layers[i] = Layer(old.type, old.kernel, width, old.stride, old.padding)
    pruned = genome.with_layers(layers)
    assert pruned.params() == count_params(model), "the pruned genome must count the pruned module's params"
    return pruned
