"""Build a ``sequential`` genome (``genome.layer_seq``) into a module: one module per layer, in order.

Convolutions and linear layers carry a bias (rows have no field to say otherwise, and a sampled network may have
no BN after its conv); a flatten goes before the first linear; BN after it is ``BatchNorm1d``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..genome.layer_seq import DROPOUT_RATE, LayerSequence
from ..ops import BN_EPS, BN_MOMENTUM, activation
from .cnn import _image_inputs
from .registry import NetworkKind, NetworkSpec, register_network


def build_sequential(genome: LayerSequence) -> nn.Sequential:
    """The network the genome describes (a fresh initialisation: seed torch before calling for a fixed one)."""
    modules: list[nn.Module] = []
    for layer, shape_in in zip(genome.layers, genome.in_shapes()):
        width = shape_in[0]
        if layer.type == "conv":
            modules.append(nn.Conv2d(width, layer.out, layer.kernel, layer.stride, layer.padding))
        elif layer.type == "maxpool":
            modules.append(nn.MaxPool2d(layer.kernel, layer.stride, layer.padding))
        elif layer.type == "avgpool":
            modules.append(nn.AvgPool2d(layer.kernel, layer.stride, layer.padding))
        elif layer.type == "bn":
            norm = nn.BatchNorm2d if len(shape_in) == 3 else nn.BatchNorm1d
            modules.append(norm(width, eps=BN_EPS, momentum=BN_MOMENTUM))
        elif layer.type in ("relu", "sigmoid"):
            modules.append(activation(layer.type, inplace=False))
        elif layer.type == "dropout":
            modules.append(nn.Dropout(DROPOUT_RATE))
        elif layer.type == "linear":
            if len(shape_in) == 3:
                modules.append(nn.Flatten())
            in_features = 1
            for dim in shape_in:
                in_features *= dim
            modules.append(nn.Linear(in_features, layer.out))
        else:  # the genome validated its types
            raise AssertionError(f"no builder for layer type {layer.type!r}")
    return nn.Sequential(*modules)


def estimate_size(genome: LayerSequence) -> tuple[int, int]:
    """(params, activation_elements) without building anything: what a memory guard needs before a training.

    ``params`` equals the built module's count; ``activation_elements`` is the sum of every layer's output
    elements for one input (multiply by the batch size and 4 bytes for the fp32 activations of a step).
    """
    return genome.params(), genome.activation_elements()


#: The registered name of sequential networks (export and loading rebuild them from the genome's JSON).
SEQUENTIAL_NETWORK = "sequential"


def sequential_spec(genome: LayerSequence) -> NetworkSpec:
    """What a result file records to rebuild ``build_sequential(genome)``."""
    return NetworkSpec(SEQUENTIAL_NETWORK, {"genome": genome.to_dict()})


def _build_from_json(genome: dict[str, Any]) -> nn.Sequential:
    return build_sequential(LayerSequence.from_dict(genome))


register_network(SEQUENTIAL_NETWORK, NetworkKind(_build_from_json, ("image",), ("logits",), _image_inputs))
