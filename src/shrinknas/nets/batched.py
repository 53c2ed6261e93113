"""K cell networks computed as one module, so the K candidates of a search step train together.

Candidate k owns the k-th block of channels of every tensor: each convolution of the K networks becomes one
grouped convolution, K times wider (one kernel launch instead of K: what pays where per-kernel overhead
dominates, as on a GPU; on a CPU grouped kernels run slower per MAC than dense ones, see
benchmarks/batched_candidates.py), BN statistics stay per channel and so per candidate, and the classifier is
one batched matrix product. The cells are the union of the candidates' cells, and block k computes exactly
candidate k because:

- weights move by channel label (``nets.inherit``): block k holds candidate k's weights on the channels k
  has and zeros elsewhere, and a gradient mask (the same embedding applied to ones) keeps those zeros zero,
  so a channel k lacks contributes nothing and learns nothing;
- a node that is a leaf in some candidates applies its final activation only in the blocks of the others; a
  cell's output is the concat of the nodes that are leaves in any candidate, and channels that are not k's
  leaves may hold values in block k, but whatever reads them does so through zero weights;
- the residual is the (grouped) 1x1 conv + BN projection for candidates that have one and a gather of the
  input channels for those whose residual is the identity.

Built from topologies (the candidates' structure comes from building them on the meta device), filled from
real candidate networks with ``load``, and read back into one with ``extract``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..ops import activation, build_op, conv_bn
from ..genome.dag_cell import Topology
from .cnn import Cell, CellNetwork, ChannelAxes, Label, MacroConfig, cell_labels, head_axes
from .inherit import transfer_state


def cat_blocks(tensors: list[torch.Tensor], copies: int) -> torch.Tensor:
    """Concatenate on channels block by block: block k of the result is the concat of the inputs' blocks k."""
    if len(tensors) == 1:
        return tensors[0]
    if all(t.is_contiguous(memory_format=torch.channels_last) for t in tensors):  # stay channels_last
        parts = [t.permute(0, 2, 3, 1).unflatten(3, (copies, -1)) for t in tensors]
        return torch.cat(parts, 4).flatten(3).permute(0, 3, 1, 2)
    return torch.cat([t.unflatten(1, (copies, -1)) for t in tensors], 2).flatten(1, 2)


def slot(tensor: torch.Tensor, copies: int, k: int) -> torch.Tensor:
    """Block k of a batched tensor as a view shaped like the candidate's own (scalars are shared)."""
    return tensor if tensor.ndim == 0 else tensor.unflatten(0, (copies, -1))[k]


def _channel_mask(size: int, copies: int, on: list[list[int]], dtype: torch.dtype) -> torch.Tensor:
    """(1, copies * size, 1, 1) mask, true at the positions ``on[k]`` of block k."""
    mask = torch.zeros(copies, size, dtype=dtype)
    for k, positions in enumerate(on):
        mask[k, positions] = 1
    return mask.view(1, copies * size, 1, 1)


class BatchedCell(nn.Module):
    """The union of K candidates' versions of one cell, block k computing candidate k's."""

    def __init__(
        self, cells: Sequence[Cell], ops: tuple[str, ...], in_labels: tuple[Label, ...], width: int, pool: int,
        act: str, index: int,
    ) -> None:
        super().__init__()
        self.copies = k_all = len(cells)
        self.pool = nn.MaxPool2d(pool, pool) if pool > 1 else nn.Identity()
        self.nodes = sorted(set().union(*(c.nodes for c in cells)))
        self.inputs = {v: sorted(set().union(*(c.inputs.get(v, ()) for c in cells))) for v in self.nodes}
        self.outputs = [v for v in [0, *self.nodes] if any(v in c.leaves for c in cells)]  # 0: an empty cell
        channels = {0: len(in_labels), **{v: width for v in self.nodes}}
        self.ops = nn.ModuleDict()
        self._selective: list[int] = []  # nodes that are leaves in some candidates and not in others
        for v in self.nodes:
            leaf = [v in c.leaves for c in cells if v in c.nodes]
            c_in = sum(channels[u] for u in self.inputs[v])
            self.ops[str(v)] = build_op(ops[v], c_in, width, act, not any(leaf), copies=k_all)
            if any(leaf) and not all(leaf):
                inner = [list(range(width)) if v in c.nodes and v not in c.leaves else [] for c in cells]
                self.register_buffer(f"act_mask_{v}", _channel_mask(width, k_all, inner, torch.bool), persistent=False)
                self._selective.append(v)
        self.act = activation(act, inplace=False)
        convs = [isinstance(c.projection, nn.Sequential) for c in cells]
        self.out_labels, self.axes = cell_labels(ops, self.inputs, self.outputs, in_labels, index, width, any(convs))
        c_in, c_out = len(in_labels), len(self.out_labels)
        self.projection = conv_bn(c_in, c_out, 1, stride=pool, act=None, copies=k_all) if any(convs) else nn.Identity()
        self._residual_modes = (any(convs), not all(convs))  # (some project, some add the input itself)
        self._init_residual(cells, convs, in_labels)

    def _init_residual(self, cells: Sequence[Cell], convs: list[bool], in_labels: tuple[Label, ...]) -> None:
        """Input channel feeding each output channel for identity residuals (candidate k's i-th in -> i-th out)."""
        c_in, c_out = len(in_labels), len(self.out_labels)
        gather = torch.zeros(self.copies, c_out, dtype=torch.long)
        identity: list[list[int]] = []
        for k, (cell, conv) in enumerate(zip(cells, convs)):
            outs = [] if conv else [self.out_labels.index(x) for x in cell.out_labels]
            if outs:
                gather[k, outs] = torch.tensor([k * c_in + in_labels.index(x) for x in cell.in_labels])
            identity.append(outs)
        self.register_buffer("gather", gather.flatten(), persistent=False)
        self.register_buffer("identity_mask", _channel_mask(c_out, self.copies, identity, torch.bool), persistent=False)
        self._gather_is_identity = c_in == c_out and torch.equal(self.gather, torch.arange(self.copies * c_in))

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        projects, adds_input = self._residual_modes
        projected = self.projection(x) if projects else None
        if not adds_input:
            return projected
        own = x if self._gather_is_identity else x.index_select(1, self.gather)
        return own if projected is None else torch.where(self.identity_mask, own, projected)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = {0: self.pool(x)}
        for v in self.nodes:
            y = self.ops[str(v)](cat_blocks([states[u] for u in self.inputs[v]], self.copies))
            if v in self._selective:
                y = torch.where(getattr(self, f"act_mask_{v}"), self.act(y), y)
            states[v] = y
        return cat_blocks([states[v] for v in self.outputs], self.copies) + self._residual(x)


class BatchedLinear(nn.Module):
    """K linear layers on the K blocks of a feature vector: (N, K * in) -> (N, K, out)."""

    def __init__(self, in_features: int, out_features: int, copies: int) -> None:
        super().__init__()
        self.copies = copies
        self.weight = nn.Parameter(torch.zeros(copies * out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(copies * out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.unflatten(0, (self.copies, -1))
        out = torch.einsum("nki,koi->nko", x.unflatten(1, (self.copies, -1)), weight)
        return out + self.bias.unflatten(0, (self.copies, -1))


class BatchedCellNetwork(nn.Module):
    """``CellNetwork(t, macro, ...)`` for every t in ``topologies`` at once; returns logits (N, K, classes).

    Parameter names are those of a CellNetwork, so the trainer's weight-decay groups apply unchanged.
    """

    def __init__(self, topologies: Sequence[Topology], macro: MacroConfig, in_channels: int, n_classes: int) -> None:
        super().__init__()
        if len({t.ops for t in topologies}) != 1:
            raise ValueError("batched candidates must share their node ops (they differ in edges only)")
        self.copies = k_all = len(topologies)
        with torch.device("meta"):  # structure, names and shapes of every candidate without allocating it
            self._shapes = [CellNetwork(t, macro, in_channels, n_classes) for t in topologies]
        self.stem = conv_bn(in_channels, k_all * macro.stem_channels, 3, stride=macro.stem_stride, act=macro.act)
        cells: list[BatchedCell] = []
        labels: tuple[Label, ...] = tuple(("stem", k) for k in range(macro.stem_channels))
        for i, (width, pool) in enumerate(macro.cells()):
            members = [net.cells[i] for net in self._shapes]
            cell = BatchedCell(members, topologies[0].ops, labels, width, pool, macro.act, i)
            cells.append(cell)
            labels = cell.out_labels
        self.cells = nn.Sequential(*cells)
        c = len(labels)
        self.head = conv_bn(c, macro.head_channels, 1, act=macro.act, copies=k_all) if macro.head_channels else nn.Identity()
        self.classifier = BatchedLinear(macro.head_channels or c, n_classes, k_all)
        self.axes: ChannelAxes = {f"cells.{i}.{k}": v for i, cell in enumerate(cells) for k, v in cell.axes.items()}
        self.axes.update(head_axes(macro, labels))
        with torch.no_grad():  # what no candidate owns stays zero: no weight, no BN scale or shift, no statistic
            for tensor in self.state_dict().values():
                tensor.zero_()
        self._mask_gradients()

    def _mask_gradients(self) -> None:
        """Zero the gradient of every parameter entry no candidate owns (found by embedding ones)."""
        params = dict(self.named_parameters())
        owned = {name: torch.zeros_like(p) for name, p in params.items()}
        for k, shape in enumerate(self._shapes):
            ones = {name: torch.ones(p.shape) for name, p in shape.named_parameters()}
            transfer_state(self._slots(owned, k), self.axes, ones, shape.axes)
        self._masked: list[str] = []
        for name, mask in owned.items():
            if bool(mask.all()):
                continue
            buffer = "grad_mask_" + name.replace(".", "_")
            self.register_buffer(buffer, mask, persistent=False)
            params[name].register_hook(lambda grad, buffer=buffer: grad * getattr(self, buffer))
            self._masked.append(name)

    def _slots(self, state: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        return {name: slot(t, self.copies, k) for name, t in state.items()}

    def slot_state(self, k: int) -> dict[str, torch.Tensor]:
        """Views of candidate k's block of every parameter and buffer, by CellNetwork name."""
        return self._slots(self.state_dict(), k)

    def _check(self, k: int, net: CellNetwork) -> None:
        """Refuse a network of another cell: equal shapes are not enough when channels carry other labels."""
        want = {name: t.shape for name, t in self._shapes[k].state_dict().items()}
        have = {name: t.shape for name, t in net.state_dict().items()}
        if want != have or net.axes != self._shapes[k].axes:
            raise ValueError(f"network {k} is not a CellNetwork of candidate {k}'s topology and macro")

    @torch.no_grad()
    def load(self, nets: Sequence[CellNetwork]) -> None:
        """Embed each candidate network's weights and BN statistics into its block."""
        if len(nets) != self.copies:
            raise ValueError(f"expected {self.copies} networks, got {len(nets)}")
        for k, net in enumerate(nets):
            self._check(k, net)
            transfer_state(self.slot_state(k), self.axes, net.state_dict(), net.axes)

    @torch.no_grad()
    def extract(self, k: int, net: CellNetwork) -> CellNetwork:
        """Write candidate k's current weights and BN statistics into ``net`` (a CellNetwork of its topology)."""
        self._check(k, net)
        transfer_state(net.state_dict(), net.axes, self.slot_state(k), self.axes)
        return net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
