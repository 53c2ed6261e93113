"""Network kinds by name: how to build a network from plain arguments and how to call it with plain tensors.

Tools that outlive a search (export, latency, loading trained weights) meet many networks: AutoShrink's cell
networks, ShrinkRNN language models, and whatever a new method builds. Each kind registers here once, so those
tools look a network up by name instead of testing its class. A ``NetworkSpec`` (builder name + JSON-able
arguments) is what a result file records to rebuild the exact architecture its weights belong to.

Example::

    spec = NetworkSpec("cnn-cell-network", {...})
    model = build_network(spec, seed=0)             # fresh weights, the same for the same seed
    kind = network_kind(spec.builder)
    inputs = kind.example_inputs(model, (1, 28, 28), 2, torch.Generator().manual_seed(0))
    outputs = kind.traceable(model)(*inputs)        # tensors in, tensors out, batch on axis 0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ..errors import BadInputError

#: (model, shape of one example without the batch axis, batch size, generator) -> the model's inputs
ExampleInputs = Callable[[nn.Module, tuple[int, ...], int, torch.Generator], tuple[torch.Tensor, ...]]


def _as_is(model: nn.Module) -> nn.Module:
    return model


@dataclass(frozen=True)
class NetworkKind:
    """What a kind of network offers to tools outside the search.

    ``traceable(model)`` is a module whose forward takes ``input_names`` tensors and returns ``output_names``
    tensors (one tensor, or a tuple), each with the batch on axis 0: the form exporters trace.
    """

    build: Callable[..., nn.Module]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    example_inputs: ExampleInputs
    traceable: Callable[[nn.Module], nn.Module] = field(default=_as_is)


@dataclass(frozen=True)
class NetworkSpec:
    """Which registered builder makes the network, with which JSON-able keyword arguments."""

    builder: str
    arguments: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"builder": self.builder, "arguments": dict(self.arguments)}

    @classmethod
    def from_dict(cls, data: Any) -> "NetworkSpec":
        if not isinstance(data, dict) or not isinstance(data.get("builder"), str) or not isinstance(
            data.get("arguments"), dict
        ):
            raise BadInputError("a network must be a JSON object with a 'builder' name and its 'arguments'")
        return cls(data["builder"], data["arguments"])


_KINDS: dict[str, NetworkKind] = {}


def register_network(name: str, kind: NetworkKind) -> None:
    """Make ``name`` buildable and exportable; a module registers its kinds when imported."""
    _KINDS[name] = kind


def network_kinds() -> list[str]:
    _load_builtin_kinds()
    return sorted(_KINDS)


def network_kind(name: str) -> NetworkKind:
    _load_builtin_kinds()
    if name not in _KINDS:
        raise BadInputError(f"unknown network builder {name!r}; expected one of {sorted(_KINDS)}")
    return _KINDS[name]


def build_network(spec: NetworkSpec, seed: int | None = None) -> nn.Module:
    """The network ``spec`` describes, in evaluation mode; ``seed`` fixes its fresh weights without touching the
    caller's random state."""
    kind = network_kind(spec.builder)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        try:
            model = kind.build(**spec.arguments)
        except TypeError as exc:
            raise BadInputError(f"the arguments of network {spec.builder!r} do not fit its builder: {exc}") from None
    return model.eval()


def _load_builtin_kinds() -> None:
    """Importing a network module registers its kinds; the built-in ones are always known."""
    from . import cnn, dso, rnn, sequential  # noqa: F401
