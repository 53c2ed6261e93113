"""DSO-NAS networks: the supernet whose edges carry scaling factors, and the network a ``dso`` genome describes.

Both are one backbone: a 3x3 Conv-BN-ReLU stem; S stages of B normal blocks with a reduction block between
stages; a head of BN, ReLU, global average pooling and a linear classifier. A normal block (paper eqs. 3-4) feeds
each op the sum of its live inputs, the block input and earlier levels' ops, each times its factor; the live ops'
outputs, each times its factor, go through a 1x1 convolution over their concat, BN and ReLU, and the block input
is added; a block with no live op is the identity. A reduction block sums a stride-2 1x1 and 3x3 Conv-BN-ReLU, each
times its factor, doubling the channels. The derived network is the same with its genome's edges and no factors.

The supernet runs, at every pass, the wiring its factors derive now (``derive``): an op with no live input or no
live path to the output is not computed, as the authors rebuild their graph every few epochs, so search epochs get
cheaper as the blocks sparsify. (Strictly, an op whose input factors are all zero still outputs the constant
ReLU(BN beta); derivation drops it, and so does the supernet.) Factors are ``nn.Parameter``s apart from the
weights: ``scaling_factors()`` for APG-NAG, ``weights()`` for SGD. BN gamma inside ops (and reduction branches) is
fixed to 1, as in the paper's pretraining and search, so it cannot take over a factor's role; the block-output BN
learns its gamma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..genome.dso_block import BRANCHES, BlockEdges, DsoArch, DsoSpace, Edge, derive, inputs_of, live_ops
from ..ops import BN_EPS, BN_MOMENTUM, build_block_op, conv_bn
from ..resources import Counts, count_parts
from .cnn import _image_inputs
from .registry import NetworkKind, NetworkSpec, register_network

_KERNEL = {"conv1x1": 1, "conv3x3": 3, "sepconv3x3": 3, "sepconv5x5": 5}


@dataclass(frozen=True)
class BlockPlan:
    """How a derived block runs: each live op with the nodes whose sum it reads, and the ops its 1x1 reads."""

    ops: tuple[tuple[int, tuple[int, ...]], ...]
    outputs: tuple[int, ...]


def block_plan(space: DsoSpace, edges: BlockEdges) -> BlockPlan:
    ops = tuple((v, tuple(inputs_of(edges, v))) for v in live_ops(space, edges))
    return BlockPlan(ops, tuple(inputs_of(edges, space.output)))


@dataclass(frozen=True)
class LevelPlan:
    """One level of a supernet block: its live ops, the nodes they read (the input and the live ops of earlier
    levels) and, per op and source, the position of the edge's factor (None: the raw input of the authors' level 1)."""

    ops: tuple[int, ...]
    sources: tuple[int, ...]
    index: torch.Tensor | None


@dataclass(frozen=True)
class ScaledPlan:
    """How a supernet block runs under its factors. Each level's inputs are one matrix product: the factors of
    its ops' edges times the stacked states of their sources (memory-bound work done once, not once per edge).
    A zero factor between two live nodes stays in the product, so its gradient flows as in the complete supernet
    and the factor may come back; only dead ops are skipped. The 1x1 reads every live op, scaled by its output
    factor."""

    levels: tuple[LevelPlan, ...]
    outputs: tuple[int, ...]
    output_index: torch.Tensor


def scaled_plan(space: DsoSpace, edges: BlockEdges, index: dict[Edge, int], device: torch.device) -> ScaledPlan:
    """The plan of the wiring ``edges`` derives, with ``index`` mapping each edge to its factor's position."""
    live = live_ops(space, edges)
    levels = []
    for i in range(1, space.levels + 1):
        ops = tuple(v for v in live if space.level(v) == i)
        if not ops:
            continue
        sources = (0,) + tuple(u for u in live if space.level(u) < i)
        raw = i == 1 and (0, ops[0]) not in index
        positions = None if raw else torch.tensor([[index[(u, v)] for u in sources] for v in ops], device=device)
        levels.append(LevelPlan(ops, sources, positions))
    output_index = torch.tensor([index[(v, space.output)] for v in live], dtype=torch.long, device=device)
    return ScaledPlan(tuple(levels), tuple(live), output_index)


def scaled_width(width: int, width_mult: float) -> int:
    """The first stage's channels under a global width multiplier (at least 1)."""
    return max(1, int(width * width_mult + 0.5))


def _scaled_add(total: torch.Tensor | None, x: torch.Tensor, factor: torch.Tensor | None) -> torch.Tensor:
    if total is None:
        return x if factor is None else x * factor
    return total + x if factor is None else torch.addcmul(total, x, factor)


def _flat(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x``'s elements in memory order, as one vector (a view when ``x`` is dense in that order)."""
    return (x.permute(0, 2, 3, 1) if channels_last else x).reshape(-1)


def _unflat(row: torch.Tensor, shape: torch.Size, channels_last: bool) -> torch.Tensor:
    b, c, h, w = shape
    return row.view(b, h, w, c).permute(0, 3, 1, 2) if channels_last else row.view(b, c, h, w)


class _ColumnConv(nn.Conv2d):
    """The block's 1x1 over the concat of op outputs; the supernet hands it the columns of the live ops, scaled by
    their factors (a weight is far smaller than the activations it would otherwise scale)."""

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return F.conv2d(x, self.weight if weight is None else weight)


class DsoBlock(nn.Module):
    """A normal block over the op nodes ``nodes``; its 1x1 reads the ops ``outputs``, in that order."""

    def __init__(self, space: DsoSpace, channels: int, nodes: Sequence[int], outputs: Sequence[int]) -> None:
        super().__init__()
        self.channels = channels
        self.outputs = tuple(outputs)
        self._position = {v: i for i, v in enumerate(self.outputs)}
        self.ops = nn.ModuleDict({str(v): build_block_op(space.op_name(v), channels) for v in nodes})
        if self.outputs:
            self.reduce = _ColumnConv(len(self.outputs) * channels, channels, 1, bias=False)
            self.bn = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)
            self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, plan: BlockPlan | ScaledPlan, factors: torch.Tensor | None = None
                ) -> torch.Tensor:
        if not plan.outputs:
            return x
        if isinstance(plan, ScaledPlan):
            assert factors is not None
            states = self._scaled_states(x, plan, factors)
            scales = factors[plan.output_index]
        else:
            states, scales = {0: x}, None
            for v, inputs in plan.ops:
                total = states[inputs[0]]
                for u in inputs[1:]:
                    total = total + states[u]
                states[v] = self.ops[str(v)](total)
        nodes = plan.outputs
        joined = states[nodes[0]] if len(nodes) == 1 else torch.cat([states[u] for u in nodes], 1)
        weight = None
        if scales is not None or nodes != self.outputs:
            c = self.channels
            weight = self.reduce.weight.reshape(c, len(self.outputs), c)
            if nodes != self.outputs:
                weight = weight[:, [self._position[u] for u in nodes]]
            if scales is not None:
                weight = weight * scales.view(1, -1, 1)
            weight = weight.reshape(c, -1, 1, 1)
        return self.relu(self.bn(self.reduce(joined, weight))) + x

    def _scaled_states(self, x: torch.Tensor, plan: ScaledPlan, factors: torch.Tensor) -> dict[int, torch.Tensor]:
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        states, flats = {0: x}, {0: _flat(x, channels_last)}
        for level in plan.levels:
            if level.index is None:
                inputs: Sequence[torch.Tensor] = [x] * len(level.ops)
            else:
                stacked = torch.stack([flats[u] for u in level.sources])
                mixed = torch.mm(factors[level.index], stacked)
                inputs = [_unflat(row, x.shape, channels_last) for row in mixed.unbind(0)]
            for v, total in zip(level.ops, inputs):
                states[v] = self.ops[str(v)](total)
                flats[v] = _flat(states[v], channels_last)
        return states


class DsoReduction(nn.Module):
    """Stride-2 Conv-BN-ReLU branches (1x1, 3x3) summed, doubling the channels."""

    def __init__(self, channels: int, branches: Sequence[str]) -> None:
        super().__init__()
        self.branches = nn.ModuleDict({b: conv_bn(channels, 2 * channels, _KERNEL[b], stride=2) for b in branches})

    def forward(self, x: torch.Tensor, plan: tuple[str, ...], factors: torch.Tensor | None = None) -> torch.Tensor:
        total = None
        for name in plan:
            factor = None if factors is None else factors[BRANCHES.index(name)]
            total = _scaled_add(total, self.branches[name](x), factor)
        assert total is not None, "a reduction block keeps at least one branch"
        return total


class _Backbone(nn.Module):
    """Stem, the cells of ``arch`` (normal blocks and reductions in order) and the head, at ``width`` channels."""

    def __init__(self, arch: DsoArch, in_channels: int, n_classes: int, width: int) -> None:
        super().__init__()
        space = self.space = arch.space
        self.stem = conv_bn(in_channels, width, 3)
        cells: list[nn.Module] = []
        #: per cell: ("block", wiring index, stage, block) or ("reduction", index, stage, -1)
        self.layout: list[tuple[str, int, int, int]] = []
        c = width
        for s in range(space.stages):
            for b in range(space.blocks):
                edges = arch.wiring(s, b)
                cells.append(DsoBlock(space, c, live_ops(space, edges), inputs_of(edges, space.output)))
                self.layout.append(("block", space.wiring_of(s, b), s, b))
            if s < space.stages - 1:
                cells.append(DsoReduction(c, arch.reductions[s]))
                self.layout.append(("reduction", s, s, -1))
                c *= 2
        self.cells = nn.ModuleList(cells)
        self.head = nn.Sequential(nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
                                  nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(c, n_classes)
        _authors_init(self)

    def _run(self, x: torch.Tensor, plans: Sequence[tuple[object, torch.Tensor | None]]) -> torch.Tensor:
        x = self.stem(x)
        for cell, (plan, factors) in zip(self.cells, plans):
            x = cell(x, plan, factors)
        return self.classifier(torch.flatten(self.head(x), 1))


def _authors_init(model: nn.Module) -> None:
    """Notes: convolutions Kaiming-normal (fan-out), linear N(0, 0.01) with zero bias, BN gamma 1 and beta 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class DsoNetwork(_Backbone):
    """The network a derived genome describes, its first stage ``width_mult`` times the genome's width."""

    def __init__(self, arch: DsoArch, in_channels: int, n_classes: int, width_mult: float = 1.0) -> None:
        super().__init__(arch, in_channels, n_classes, scaled_width(arch.space.width, width_mult))
        self.arch = arch
        self._plans = [(block_plan(arch.space, arch.wiring(s, b)) if kind == "block" else arch.reductions[i], None)
                       for kind, i, s, b in self.layout]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, self._plans)


class DsoSupernet(_Backbone):
    """The complete block space with a factor on every edge (one set shared by all normal blocks, or one each)
    and on each reduction branch, all starting at 1. ``scale_level1=False``: level-1 ops read the raw block input
    (the authors' code) instead of scaling it (the paper's eq. 3)."""

    def __init__(self, space: DsoSpace, in_channels: int, n_classes: int, scale_level1: bool = True) -> None:
        complete = DsoArch.complete(space)
        super().__init__(complete, in_channels, n_classes, space.width)
        self.complete = complete
        self.scale_level1 = scale_level1
        self.edges = space.lambda_edges(scale_level1)
        self._index = {e: i for i, e in enumerate(self.edges)}
        keys = [self.wiring_key(w) for w in range(space.n_searched)] + [self.reduction_key(r)
                                                                         for r in range(space.n_reductions)]
        self.lambdas = nn.ParameterDict({k: nn.Parameter(torch.ones(len(self.edges) if k.startswith("block")
                                                                    or k == "normal" else len(BRANCHES)))
                                         for k in keys})
        for cell in self.cells:  # BN gamma inside ops fixed to 1 (beta trains)
            parts = cell.ops.values() if isinstance(cell, DsoBlock) else cell.branches.values()
            for module in (m for part in parts for m in part.modules()):
                if isinstance(module, nn.BatchNorm2d):
                    module.weight.requires_grad_(False)
        #: skip the ops the factors have pruned; off, every op runs (as for counting the complete supernet)
        self.prune = True
        self._derived: dict[tuple, DsoArch] = {}
        self._plan_cache: dict[tuple[BlockEdges, torch.device], ScaledPlan] = {}

    # ----- factors and weights -----
    def wiring_key(self, wiring: int) -> str:
        return "normal" if self.space.space == "share" else f"block{wiring}"

    @staticmethod
    def reduction_key(index: int) -> str:
        return f"reduction{index}"

    def cell_key(self, cell: int) -> str:
        """The factor set a cell reads."""
        kind, i, _, _ = self.layout[cell]
        return self.wiring_key(i) if kind == "block" else self.reduction_key(i)

    def named_scaling_factors(self) -> dict[str, nn.Parameter]:
        return dict(self.lambdas.items())

    def scaling_factors(self) -> list[nn.Parameter]:
        return list(self.lambdas.values())

    def weights(self) -> list[nn.Parameter]:
        """Every trainable parameter but the factors (the fixed BN gammas are not trainable)."""
        factors = {id(p) for p in self.lambdas.values()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in factors]

    # ----- the wiring the factors describe -----
    def derive(self) -> DsoArch:
        """The architecture the factors describe now (kept: factor > 0)."""
        values = {k: p.detach().cpu().tolist() for k, p in self.lambdas.items()}
        blocks = [values[self.wiring_key(w)] for w in range(self.space.n_searched)]
        reductions = [values[self.reduction_key(r)] for r in range(self.space.n_reductions)]
        key = (tuple(v > 0 for vs in blocks for v in vs), tuple(tuple(r) for r in reductions))
        arch = self._derived.get(key)
        if arch is None:
            if len(self._derived) > 64:
                self._derived.clear()
            arch = self._derived[key] = derive(self.space, blocks, reductions, self.scale_level1)
        return arch

    def live_lambdas(self) -> int:
        """Factors above zero (a shared set counted once)."""
        return int(sum(int((p.detach() > 0).sum()) for p in self.lambdas.values()))

    def _plan(self, edges: BlockEdges, device: torch.device) -> ScaledPlan:
        plan = self._plan_cache.get((edges, device))
        if plan is None:
            if len(self._plan_cache) > 256:
                self._plan_cache.clear()
            plan = self._plan_cache[edges, device] = scaled_plan(self.space, edges, self._index, device)
        return plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arch = self.derive() if self.prune else self.complete
        plans: list[tuple[object, torch.Tensor | None]] = []
        for kind, i, s, b in self.layout:
            if kind == "block":
                plans.append((self._plan(arch.wiring(s, b), x.device), self.lambdas[self.wiring_key(i)]))
            else:
                plans.append((arch.reductions[i], self.lambdas[self.reduction_key(i)]))
        return self._run(x, plans)

    # ----- costs, for the budgets -----
    def op_costs(self, input_shape: tuple[int, int, int]) -> "SupernetCosts":
        """MACs and memory access of every op of the complete supernet for one input (one counted pass)."""
        parts: dict[str, nn.Module] = {"stem": self.stem, "head": self.head, "classifier": self.classifier}
        for c, cell in enumerate(self.cells):
            if isinstance(cell, DsoBlock):
                parts.update({f"{c}.op{v}": op for v, op in cell.ops.items()})
                parts.update({f"{c}.reduce": cell.reduce, f"{c}.bn": cell.bn})
            else:
                parts.update({f"{c}.{name}": branch for name, branch in cell.branches.items()})
        prune, self.prune = self.prune, False
        try:
            counted = count_parts(self, input_shape, parts)
        finally:
            self.prune = prune
        cells = []
        for c, cell in enumerate(self.cells):
            if isinstance(cell, DsoBlock):
                cells.append(CellCosts({int(v): counted[f"{c}.op{v}"] for v in cell.ops}, counted[f"{c}.reduce"],
                                       counted[f"{c}.bn"], len(cell.outputs)))
            else:
                cells.append(CellCosts({name: counted[f"{c}.{name}"] for name in cell.branches}))
        fixed = [counted[k] for k in ("stem", "head", "classifier")]
        return SupernetCosts(sum(k.macs for k in fixed), tuple(cells), tuple(self.layout))


@dataclass(frozen=True)
class CellCosts:
    """One cell's costs: per op node (normal block) or branch (reduction); a block's 1x1 over all op outputs and
    its output BN."""

    ops: dict
    reduce: Counts | None = None
    bn: Counts | None = None
    n_outputs: int = 0

    def kept_macs(self, kept_ops: Sequence, live_outputs: int) -> int:
        """MACs with only ``kept_ops`` computed and ``live_outputs`` ops read by the 1x1 (whose MACs scale with
        the columns it reads)."""
        macs = sum(self.ops[v].macs for v in kept_ops)
        if self.reduce is not None and live_outputs:
            macs += self.reduce.macs * live_outputs // self.n_outputs + self.bn.macs
        return macs

    @property
    def complete_macs(self) -> int:
        return self.kept_macs(list(self.ops), self.n_outputs)


@dataclass(frozen=True)
class SupernetCosts:
    """The supernet's counted costs: what the stem, head and classifier take whatever the wiring, and each cell's."""

    fixed_macs: int
    cells: tuple[CellCosts, ...]
    layout: tuple[tuple[str, int, int, int], ...]

    def cell_macs(self, cell: int, arch: DsoArch) -> int:
        """MACs of one cell as ``arch`` wires it."""
        kind, i, s, b = self.layout[cell]
        if kind == "reduction":
            return self.cells[cell].kept_macs(arch.reductions[i], 0)
        edges = arch.wiring(s, b)
        return self.cells[cell].kept_macs(live_ops(arch.space, edges), len(inputs_of(edges, arch.space.output)))

    def kept_macs(self, arch: DsoArch) -> int:
        """MACs of the whole network as ``arch`` wires it: those of its derived network at width 1."""
        return self.fixed_macs + sum(self.cell_macs(c, arch) for c in range(len(self.cells)))

    @property
    def complete_macs(self) -> int:
        return self.fixed_macs + sum(cell.complete_macs for cell in self.cells)


#: The registered name of every ``DsoNetwork`` (export, latency and trained weights find it by this name).
DSO_NETWORK = "dso-network"


def dso_network_spec(arch: DsoArch, in_channels: int, n_classes: int, width_mult: float = 1.0) -> NetworkSpec:
    """What a result file records to rebuild ``DsoNetwork(arch, in_channels, n_classes, width_mult)``."""
    return NetworkSpec(DSO_NETWORK, {"arch": arch.to_dict(), "in_channels": in_channels, "n_classes": n_classes,
                                     "width_mult": width_mult})


def _build_dso_network(arch: dict, in_channels: int, n_classes: int, width_mult: float = 1.0) -> DsoNetwork:
    return DsoNetwork(DsoArch.from_dict(arch), in_channels, n_classes, width_mult)


register_network(DSO_NETWORK, NetworkKind(_build_dso_network, ("image",), ("logits",), _image_inputs))


# ----- size without building -----
def estimate_size(
    arch: DsoArch, input_shape: tuple[int, int, int], n_classes: int, width_mult: float = 1.0
) -> tuple[int, int]:
    """(parameters, activation elements) of ``DsoNetwork(arch, ..., width_mult)`` for one input, without torch:
    enough to refuse a network that cannot fit before building it. Activation elements are the outputs of every
    layer (conv, BN, ReLU, pooling, linear) of one forward pass; multiply by the batch and the bytes per element."""
    space = arch.space
    in_channels, h, w = input_shape
    c = scaled_width(space.width, width_mult)
    params = 9 * in_channels * c + 2 * c
    acts = 3 * c * h * w
    for s in range(space.stages):
        for b in range(space.blocks):
            edges = arch.wiring(s, b)
            for v in live_ops(space, edges):
                op = space.op_name(v)
                if op.startswith("sepconv"):  # depthwise, pointwise, BN (and ReLU)
                    k = _KERNEL[op]
                    params += k * k * c + c * c + 2 * c
                    acts += 4 * c * h * w
                else:  # pooling, BN (and ReLU)
                    params += 2 * c
                    acts += 3 * c * h * w
            n_out = len(inputs_of(edges, space.output))
            if n_out:
                params += n_out * c * c + 2 * c
                acts += 3 * c * h * w
        if s < space.stages - 1:
            h, w = math.floor((h - 1) / 2) + 1, math.floor((w - 1) / 2) + 1
            for branch in arch.reductions[s]:
                k = _KERNEL[branch]
                params += k * k * c * 2 * c + 4 * c
                acts += 3 * 2 * c * h * w
            c *= 2
    params += 2 * c + c * n_classes + n_classes
    acts += 2 * c * h * w + c + n_classes
    return params, acts
