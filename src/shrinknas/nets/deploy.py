"""From a found architecture to the network a user trains, profiles and exports, for every genome kind.

A genome is the part a search decides (a cell, a block, a layer sequence); the network around it depends on the
data (input shape, classes) and on a few options (AutoShrink: how many cells a stage, how wide). Each genome kind
registers here how it becomes a ``NetworkSpec`` and which options it takes, so ``train``, ``profile`` and ``export``
treat every method alike. Before anything is built, its size is estimated on PyTorch's meta device (shapes, no
memory) and an architecture that cannot fit in this machine's memory is refused in one line.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import BadInputError, TooLargeError
from ..genome import Genome
from .registry import NetworkSpec, network_kind

#: Modules whose import registers the built-in genome kinds' networks.
BUILTIN_DEPLOYMENTS = ("shrinknas.nets.cnn", "shrinknas.nets.rnn")
#: An architecture may take at most this share of the machine's memory for one example's forward pass.
MEMORY_SHARE = 0.5


@dataclass(frozen=True)
class KindOption:
    """An option only some kinds of architecture take (AutoShrink cells: ``cells_per_stage``): the commands that
    build or train architectures offer the options of every kind, and each kind refuses the others'."""

    name: str
    type: type
    default: Any
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def refuse_foreign(kind: str, given: Mapping[str, Any], takes: tuple[KindOption, ...]) -> None:
    """One line naming the options given that ``kind`` does not take, and those it does."""
    names = {o.name for o in takes}
    unknown = sorted(n for n in given if n not in names)
    if unknown:
        offered = ", ".join(o.flag for o in takes) or "no options"
        raise BadInputError(f"{', '.join('--' + u.replace('_', '-') for u in unknown)} does not apply to {kind} "
                            f"architectures (they take {offered})")


@dataclass(frozen=True)
class Deployment:
    """How a genome kind becomes a network: ``network(genome, facts, **options) -> (NetworkSpec, input shape)``, the
    options it takes with their defaults, and the facts it assumes when none are known (a bare architecture file)."""

    network: Callable[..., tuple[NetworkSpec, tuple[int, ...]]]
    options: tuple[KindOption, ...]
    default_facts: Mapping[str, Any]
    #: the figures ``profile`` reports of a built network (default: params, MACs and memory access of one input)
    count: Callable[[nn.Module, tuple[int, ...]], dict[str, Any]] | None = None
    #: params and activations of the spec's network without building it (default: built on the meta device)
    estimate: Callable[[NetworkSpec, tuple[int, ...]], "SizeEstimate"] | None = None


def image_counts(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    from ..resources import count

    counts = count(model, tuple(input_shape))
    return {name: getattr(counts, name) for name in counts.__dataclass_fields__}


_DEPLOYMENTS: dict[str, Deployment] = {}


def register_deployment(genome_kind: str, deployment: Deployment) -> None:
    _DEPLOYMENTS[genome_kind] = deployment


def _load_builtin() -> None:
    for module in BUILTIN_DEPLOYMENTS:
        importlib.import_module(module)


def deployment_options() -> list[KindOption]:
    """Every option any kind takes (for the commands' option lists), each name once."""
    _load_builtin()
    return list({o.name: o for d in _DEPLOYMENTS.values() for o in d.options}.values())


def deployment(genome_kind: str) -> Deployment:
    if genome_kind not in _DEPLOYMENTS:
        _load_builtin()
    try:
        return _DEPLOYMENTS[genome_kind]
    except KeyError:
        raise BadInputError(f"{genome_kind} architectures cannot be built into a network") from None


def counts(genome_kind: str, model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """What ``profile`` reports of a network of this genome kind."""
    return (deployment(genome_kind).count or image_counts)(model, tuple(input_shape))


def network_spec(genome: Genome, facts: Mapping[str, Any] | None = None, **options: Any
                 ) -> tuple[NetworkSpec, tuple[int, ...]]:
    """The network a genome becomes for data with ``facts`` (input_shape, n_classes; default: its kind's own), and
    the shape of one input it takes (the data's, or one the network fixes, as an ImageNet macro does).

    Options left at None take their default; an option the kind does not take is a one-line error."""
    kind = deployment(genome.kind)
    given = {k: v for k, v in options.items() if v is not None}
    refuse_foreign(genome.kind, given, kind.options)
    defaults = {o.name: o.default for o in kind.options}
    return kind.network(genome, {**kind.default_facts, **(facts or {})}, **{**defaults, **given})


@dataclass(frozen=True)
class SizeEstimate:
    params: int
    activations: int  # elements of every module output, one example

    @property
    def bytes(self) -> int:
        return 4 * (self.params + self.activations)


def estimate_size(genome_kind: str, spec: NetworkSpec, input_shape: tuple[int, ...]) -> SizeEstimate:
    """Params and one example's activations of the network: the kind's own estimate, or else the network built
    and run on the meta device (shapes only, no tensor memory)."""
    own = deployment(genome_kind).estimate
    if own is not None:
        return own(spec, tuple(input_shape))
    kind = network_kind(spec.builder)
    with torch.device("meta"):
        model = kind.build(**spec.arguments)
        inputs = kind.example_inputs(model, tuple(input_shape), 1, torch.Generator())
    params = sum(p.numel() for p in model.parameters())
    outputs = 0

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        nonlocal outputs
        if isinstance(output, torch.Tensor) and not list(module.children()):
            outputs += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            kind.traceable(model.eval())(*(x.to("meta") for x in inputs))
    finally:
        for handle in handles:
            handle.remove()
    return SizeEstimate(params, outputs)


def memory_limit() -> int:
    """Bytes an architecture may take: a share of this machine's physical memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    return int(total * MEMORY_SHARE)


def check_fits(genome_kind: str, spec: NetworkSpec, input_shape: tuple[int, ...], what: str = "the network"
               ) -> SizeEstimate:
    """The size estimate, or ``TooLargeError`` naming the figure and the limit when it cannot fit in memory."""
    size = estimate_size(genome_kind, spec, input_shape)
    limit = memory_limit()
    if size.bytes > limit:
        raise TooLargeError(f"{what} would need {size.bytes / 2**30:.1f} GiB for one example ({size.params:,} "
                            f"parameters, {size.activations:,} activations), over the limit of {limit / 2**30:.1f} "
                            "GiB (half this machine's memory)")
    return size


def build(genome: Genome, facts: Mapping[str, Any] | None = None, seed: int | None = None,
          **options: Any) -> tuple[nn.Module, NetworkSpec, tuple[int, ...]]:
    """The network a genome becomes for ``facts``, after checking that it fits; fresh weights fixed by ``seed``.
    Returns the model, its spec and the input shape it takes."""
    from .registry import build_network

    spec, shape = network_spec(genome, facts, **options)
    check_fits(genome.kind, spec, shape, f"this {genome.kind} architecture")
    return build_network(spec, seed), spec, shape
