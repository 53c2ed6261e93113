"""CNN cells and the macro networks around them (paper section 3.5, Table 1, ShrinkCNN-A/B).

A cell maps a Topology to a module: node 0 is the (optionally max-pooled) input, every other reachable node
concatenates its predecessors in ascending order and applies its op, the cell output is the concat of the
reachable leaves plus a residual from the cell input (1x1 conv + BN when shape changes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from ..config import ImageTask
from ..errors import BadInputError
from ..ops import INPUT_AXES, build_op, conv_bn, glorot_init
from ..genome.dag_cell import Topology
from .deploy import Deployment, KindOption, SizeEstimate, register_deployment
from .registry import NetworkKind, NetworkSpec, register_network


#: Which channel a tensor dimension holds: ("stem", k) or (cell index, node, k). A child network and its parent
#: share labels wherever they share channels, which is how weights move between them.
Label = tuple
#: parameter name -> [(axis, labels along it, zero where the other network lacks the label)]
ChannelAxes = dict[str, list[tuple[int, tuple[Label, ...], bool]]]


def make_divisible(value: float, divisor: int = 4) -> int:
    """Round a width to a multiple of ``divisor`` without losing more than 10 % (MobileNet convention)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def cell_labels(
    ops: tuple[str, ...],
    inputs: dict[int, list[int]],
    outputs: list[int],
    in_labels: tuple[Label, ...],
    index: int,
    width: int,
    projection: bool,
) -> tuple[tuple[Label, ...], ChannelAxes]:
    """Labels of a cell's output channels and of its parameters' channel axes, for any wiring of its nodes.

    ``inputs`` maps each built node to its predecessors (concatenated in that order), ``outputs`` lists the
    nodes whose concat forms the output; node 0 carries ``in_labels``, node v's k-th channel (index, v, k).
    """
    labels = {0: in_labels, **{v: tuple((index, v, k) for k in range(width)) for v in inputs}}
    out_labels = tuple(x for v in outputs for x in labels[v])
    axes: ChannelAxes = {}
    for v, preds in inputs.items():
        node_in = tuple(x for u in preds for x in labels[u])
        for name, axis in INPUT_AXES[ops[v]].items():
            axes[f"ops.{v}.{name}"] = [(axis, node_in, axis == 1)]
    if projection:
        axes["projection.0.weight"] = [(0, out_labels, True), (1, in_labels, True)]
        for p in ("weight", "bias", "running_mean", "running_var"):
            axes[f"projection.1.{p}"] = [(0, out_labels, False)]
    return out_labels, axes


def head_axes(macro: "MacroConfig", labels: tuple[Label, ...]) -> ChannelAxes:
    """The layer after the last cell reads its output channels: the 1x1 head, or else the classifier."""
    return {"head.0.weight" if macro.head_channels else "classifier.weight": [(1, labels, True)]}


class _ChannelConcat(torch.autograd.Function):
    """torch.cat on channels whose backward hands each input a dense gradient, not a strided view.

    In channels_last a view of some channels strides over all of them, and torch 2.13's CPU bf16 add of such a
    view (the autograd engine summing the gradients a node gets from its several successors) is 13x slower than
    fp32's: 4.8 against 0.37 ms for 128x16x28x28. A dense copy and a dense add cost 0.6 ms.
    """

    @staticmethod
    def forward(ctx, *parts: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.sizes = [p.shape[1] for p in parts]
        ctx.channels_last = parts[0].is_contiguous(memory_format=torch.channels_last)
        return torch.cat(parts, dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        fmt = torch.channels_last if ctx.channels_last else torch.contiguous_format
        return tuple(g.contiguous(memory_format=fmt) for g in grad.split(ctx.sizes, dim=1))


def concat_channels(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate on channels; in bf16 training with dense gradients (fp32's strided adds are fast: plain cat)."""
    if len(parts) == 1:
        return parts[0]
    if torch.is_grad_enabled() and parts[0].dtype == torch.bfloat16:
        return _ChannelConcat.apply(*parts)
    return torch.cat(parts, dim=1)


class Cell(nn.Module):
    """One AutoShrink cell built from a topology."""

    def __init__(
        self,
        topology: Topology,
        c_in: int,
        width: int,
        pool: int = 1,
        act: str = "relu",
        index: int = 0,
        in_labels: tuple[Label, ...] | None = None,
    ) -> None:
        super().__init__()
        if topology.kind != "cnn":
            raise BadInputError(f"a CNN needs a cnn cell, got a {topology.kind} cell")
        cell = topology.pruned()
        self.pool = nn.MaxPool2d(pool, pool) if pool > 1 else nn.Identity()
        self.nodes = sorted(cell.reachable() - {0})
        self.inputs = {v: cell.predecessors(v) for v in self.nodes}
        self.leaves = cell.leaves()
        channels = {0: c_in, **{v: width for v in self.nodes}}
        leaf_set = set(self.leaves)
        self.ops = nn.ModuleDict(
            {
                str(v): build_op(cell.ops[v], sum(channels[u] for u in self.inputs[v]), width, act, v not in leaf_set)
                for v in self.nodes
            }
        )
        self.c_out = sum(channels[v] for v in self.leaves)
        needs_projection = self.c_out != c_in or pool > 1
        self.projection = conv_bn(c_in, self.c_out, 1, stride=pool, act=None) if needs_projection else nn.Identity()
        self.in_labels: tuple[Label, ...] = in_labels or tuple(("in", k) for k in range(c_in))
        self.out_labels, self.axes = cell_labels(
            cell.ops, self.inputs, self.leaves, self.in_labels, index, width, isinstance(self.projection, nn.Sequential)
        )
        #: chance that training cuts each edge for a sample, as a removal would (``ImageTraining.path_dropout``)
        self.path_dropout = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = {0: self.pool(x)}
        cut = self.path_dropout if self.training else 0.0
        alive = {0: x.new_ones(x.shape[0], 1, 1, 1)} if cut else {}  # per sample: 0 where a node lost all inputs
        for v in self.nodes:
            preds = self.inputs[v]
            joined = concat_channels([states[u] for u in preds])
            if cut:  # each edge is cut with chance ``cut``, and a dead node's edges with it
                kept = [(torch.rand_like(alive[u]) >= cut).to(x.dtype) * alive[u] for u in preds]
                alive[v] = torch.stack(kept).amax(0)
                joined = joined * self._widen(kept, [states[u].shape[1] for u in preds])
            states[v] = self.ops[str(v)](joined)
        leaves = [states[v] for v in self.leaves]
        out = concat_channels(leaves)
        if cut:
            out = out * self._widen([alive[v] for v in self.leaves], [s.shape[1] for s in leaves])
        return out + self.projection(x)

    @staticmethod
    def _widen(masks: list[torch.Tensor], channels: list[int]) -> torch.Tensor:
        """Per-sample masks of concatenated inputs, one per input, as one (N, channels, 1, 1) mask."""
        return torch.cat([m.expand(-1, c, -1, -1) for m, c in zip(masks, channels)], dim=1)


@dataclass(frozen=True)
class MacroConfig:
    """Stages of stacked cells between a stem and a classifier."""

    widths: tuple[int, ...]
    cells_per_stage: tuple[int, ...]
    pools: tuple[int, ...]
    stem_channels: int = 32
    stem_stride: int = 1
    head_channels: int = 0
    act: str = "relu"

    def __post_init__(self) -> None:
        if not (len(self.widths) == len(self.cells_per_stage) == len(self.pools)):
            raise BadInputError("widths, cells per stage and pools must have one entry per stage")
        if min(self.cells_per_stage) < 1:
            raise BadInputError("every stage needs at least one cell")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Any) -> "MacroConfig":
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not set(data) <= names:
            raise BadInputError(f"a macro network must be a JSON object with keys among {sorted(names)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def cells(self) -> list[tuple[int, int]]:
        """(width, pool) of every cell in order: max-pooling at each stage's first cell."""
        return [
            (width, pool if i == 0 else 1)
            for width, count, pool in zip(self.widths, self.cells_per_stage, self.pools)
            for i in range(count)
        ]


class CellNetwork(nn.Module):
    """Stem -> stages of cells (max-pool at each stage's first cell) -> [1x1 head] -> GAP -> linear."""

    def __init__(self, topology: Topology, macro: MacroConfig, in_channels: int, n_classes: int) -> None:
        super().__init__()
        self.stem = conv_bn(in_channels, macro.stem_channels, 3, stride=macro.stem_stride, act=macro.act)
        cells: list[Cell] = []
        c = macro.stem_channels
        labels: tuple[Label, ...] = tuple(("stem", k) for k in range(c))
        for width, pool in macro.cells():
            cell = Cell(topology, c, width, pool, macro.act, len(cells), labels)
            cells.append(cell)
            c, labels = cell.c_out, cell.out_labels
        self.cells = nn.Sequential(*cells)
        self.head = conv_bn(c, macro.head_channels, 1, act=macro.act) if macro.head_channels else nn.Identity()
        self.classifier = nn.Linear(macro.head_channels or c, n_classes)
        self.axes: ChannelAxes = {f"cells.{i}.{k}": v for i, cell in enumerate(cells) for k, v in cell.axes.items()}
        self.axes.update(head_axes(macro, labels))
        glorot_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def proxy_macro(task: ImageTask) -> MacroConfig:
    """The search-time network: one cell per stage, widths 16/32/64 (make_divisible(16 * 2**s, 4)), pools 1/2/2."""
    widths = tuple(make_divisible(task.base_width * 2**s, 4) for s in range(task.stages))
    pools = tuple(1 if s == 0 else 2 for s in range(task.stages))
    return MacroConfig(widths, (1,) * task.stages, pools, stem_channels=task.stem_channels)


def cifar_macro(cells_per_stage: int = 1, width_mult: float = 1.0, act: str = "relu") -> MacroConfig:
    """Paper Table 1 (CIFAR, also 28x28 inputs): stem 32, three stages of T cells, 16/32/64 filters times W."""
    widths = tuple(make_divisible(w * width_mult, 4) for w in (16, 32, 64))
    return MacroConfig(widths, (cells_per_stage,) * 3, (1, 2, 2), stem_channels=make_divisible(32 * width_mult, 4), act=act)


def imagenet_macro(act: str = "relu") -> MacroConfig:
    """ShrinkCNN-A (ReLU) / -B (swish): stem 44 stride 2, five stages, 1x1 head to 1280."""
    return MacroConfig(
        widths=(12, 24, 44, 88, 180),
        cells_per_stage=(1, 3, 4, 6, 4),
        pools=(1, 2, 2, 2, 2),
        stem_channels=44,
        stem_stride=2,
        head_channels=1280,
        act=act,
    )


#: Named macro networks for profiling a cell: name -> (config, input shape C,H,W, classes).
PROFILE_PRESETS = {
    "cifar": (cifar_macro, (3, 32, 32), 10),
    "imagenet": (imagenet_macro, (3, 224, 224), 1001),
}


def preset_network(topology: Topology, name: str, act: str = "relu") -> tuple[CellNetwork, tuple[int, int, int]]:
    """The macro network a published result uses, with its input shape (for ``profile``)."""
    try:
        make, shape, classes = PROFILE_PRESETS[name]
    except KeyError:
        raise BadInputError(f"unknown macro {name!r}; expected one of {sorted(PROFILE_PRESETS)}") from None
    return CellNetwork(topology, make(act=act), shape[0], classes), shape


def build_proxy_network(topology: Topology, task: ImageTask, in_channels: int, n_classes: int) -> CellNetwork:
    network = CellNetwork(topology, proxy_macro(task), in_channels, n_classes)
    for cell in network.cells:
        cell.path_dropout = task.training.path_dropout
    return network


#: The registered name of every ``CellNetwork``: proxy, Table 1 and ImageNet macros alike.
CELL_NETWORK = "cnn-cell-network"


def cell_network_spec(topology: Topology, macro: MacroConfig, in_channels: int, n_classes: int) -> NetworkSpec:
    """What a result file records to rebuild ``CellNetwork(topology, macro, in_channels, n_classes)``."""
    return NetworkSpec(
        CELL_NETWORK,
        {"cell": topology.to_dict(), "macro": macro.to_dict(), "in_channels": in_channels, "n_classes": n_classes},
    )


def _build_cell_network(cell: dict, macro: dict, in_channels: int, n_classes: int) -> CellNetwork:
    return CellNetwork(Topology.from_dict(cell), MacroConfig.from_dict(macro), in_channels, n_classes)


def _image_inputs(
    model: nn.Module, shape: tuple[int, ...], batch: int, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    return (torch.randn(batch, *shape, generator=generator),)


register_network(CELL_NETWORK, NetworkKind(_build_cell_network, ("image",), ("logits",), _image_inputs))


#: Macro networks a found cell can be built into: the paper's Table 1 network at the data's input, or ShrinkCNN's.
MACROS = ("final", "imagenet")


def _deployed_cell(topology: Topology, facts: dict, macro: str, cells_per_stage: int, width_mult: float,
                   act: str) -> tuple[NetworkSpec, tuple[int, ...]]:
    """The Table 1 network (T cells a stage, widths times W) for the data's input, or the ImageNet macro of
    ShrinkCNN-A/B (its 224x224 input and 1001 classes, whatever the data)."""
    if macro == "imagenet":
        return cell_network_spec(topology, imagenet_macro(act), 3, 1001), (3, 224, 224)
    if macro != "final":
        raise BadInputError(f"unknown macro {macro!r}; expected one of {list(MACROS)}")
    if cells_per_stage < 1 or width_mult <= 0:
        raise BadInputError("--cells-per-stage must be 1 or more and --width-mult above 0")
    shape = tuple(int(x) for x in facts["input_shape"])
    return cell_network_spec(topology, cifar_macro(cells_per_stage, width_mult, act), shape[0],
                             int(facts["n_classes"])), shape


#: parameters of an op per (channels in, channels out), BN included; pooling ops end in a 1x1 Conv-BN
_OP_PARAMS = {
    "conv1x1": lambda c, w: c * w + 2 * w,
    "sepconv3x3": lambda c, w: 9 * c + 2 * c + c * w + 2 * w,
    "sepconv5x5": lambda c, w: 25 * c + 2 * c + c * w + 2 * w,
    "maxpool3x3": lambda c, w: c * w + 2 * w,
    "avgpool3x3": lambda c, w: c * w + 2 * w,
}


def estimate_cell_network(spec: NetworkSpec, input_shape: tuple[int, ...]) -> SizeEstimate:
    """Params and one input's activations of a ``CellNetwork`` from its spec alone, without building anything:
    a cell file of thousands of nodes must be refused before its labels and modules take the memory."""
    args = spec.arguments
    cell, macro = Topology.from_dict(args["cell"]).pruned(), MacroConfig.from_dict(args["macro"])
    _, h, w = input_shape
    h, w = -(-h // macro.stem_stride), -(-w // macro.stem_stride)
    c = macro.stem_channels
    params = args["in_channels"] * c * 9 + 2 * c
    activations = 2 * c * h * w
    nodes = sorted(cell.reachable() - {0})
    leaves = cell.leaves()
    for width, pool in macro.cells():
        h, w = h // pool, w // pool
        channels = {0: c, **{v: width for v in nodes}}
        for v in nodes:
            c_in = sum(channels[u] for u in cell.predecessors(v))
            params += _OP_PARAMS[cell.ops[v]](c_in, width)
            activations += (2 * c_in + 3 * width) * h * w  # concat, depthwise output, conv and BN outputs
        c_out = sum(channels[v] for v in leaves)
        if c_out != c or pool > 1:
            params += c * c_out + 2 * c_out
        activations += 2 * c_out * h * w
        c = c_out
    if macro.head_channels:
        params += c * macro.head_channels + 2 * macro.head_channels
        c = macro.head_channels
    params += c * args["n_classes"] + args["n_classes"]
    return SizeEstimate(params, activations)


#: What a cell's network can be besides its cell (``profile``, ``export``, ``train``).
CELL_OPTIONS = (
    KindOption("macro", str, "final", "cnn cells: final (the paper's Table 1 network at the data's input) | imagenet "
               "(ShrinkCNN's, 3x224x224, 1001 classes)"),
    KindOption("cells_per_stage", int, 1, "cnn cells: T cells stacked per stage"),
    KindOption("width_mult", float, 1.0, "cnn cells: width multiplier of the Table 1 network"),
    KindOption("act", str, "relu", "cnn cells: relu | swish (ShrinkCNN-B)"),
)

register_deployment("cnn", Deployment(_deployed_cell, CELL_OPTIONS, {"input_shape": [3, 32, 32], "n_classes": 10},
                                      estimate=estimate_cell_network))
