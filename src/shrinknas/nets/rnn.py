"""The AutoShrink recurrent cell (paper eqs. 2-3, as the authors implemented it) and its language model.

Per time step, node 0 mixes the input and the previous hidden state through a highway step:
``(c0, h0) = [x, h_prev] W0``, ``s0 = h_prev + sigmoid(c0) * (f0(h0) - h_prev)``. Every edge i -> j owns a
matrix ``W_ij`` (nhid x 2 nhid) and contributes ``s_i + sigmoid(c) * (f_j(h) - s_i)`` with
``(c, h) = s_i W_ij``; a node's state is the mean of its incoming contributions and the new hidden state is the
mean of the leaf states. ``f_j`` is node j's activation (``topology.ops[j]``; node 0 uses ``ops[0]``).

Only nodes reachable from node 0 are built. The matrices of all edges leaving a node are stored side by side
in one parameter, so each node costs one matmul per step, and the input half of ``W0`` is applied to the
whole sequence at once; both are exact rewrites of the per-edge computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BadInputError
from ..genome.dag_cell import Topology
from .deploy import Deployment, KindOption, register_deployment
from .registry import NetworkKind, NetworkSpec, register_network

#: Uniform init range of every weight (authors and DARTS: 0.04); the decoder bias starts at zero.
INIT_RANGE = 0.04

#: Node activations as plain functions (``ops.ACTIVATIONS`` builds modules, some in place; here the
#: activation is applied to a slice of a matmul whose other half feeds the gate, so nothing may act in place).
CELL_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "identity": lambda t: t,
}


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in CELL_ACTIVATIONS:
        raise BadInputError(f"unknown rnn activation {name!r}; expected one of {sorted(CELL_ACTIVATIONS)}")
    return CELL_ACTIVATIONS[name]


def _highway(s: torch.Tensor, c: torch.Tensor, h: torch.Tensor, act: Callable) -> torch.Tensor:
    return s + torch.sigmoid(c) * (act(h) - s)


class HighwayCell(nn.Module):
    """One recurrent step of a ``kind == "rnn"`` Topology, unrolled over a sequence by ``forward``."""

    def __init__(self, topology: Topology, ninp: int, nhid: int) -> None:
        super().__init__()
        if topology.kind != "rnn":
            raise BadInputError(f"a recurrent cell needs an rnn topology, got {topology.kind!r}")
        cell = topology.pruned()
        self.topology = cell
        self.ninp, self.nhid = ninp, nhid
        self.acts = [_activation(op) for op in cell.ops]
        self.order = sorted(cell.reachable())
        self.targets = {i: [j for u, j in cell.edges if u == i] for i in self.order}
        self.in_degree = {j: len(cell.predecessors(j)) for j in self.order}
        self.leaves = cell.leaves()
        self.w0 = nn.Parameter(torch.empty(ninp + nhid, 2 * nhid).uniform_(-INIT_RANGE, INIT_RANGE))
        self.w_out = nn.ParameterDict(
            {
                str(i): nn.Parameter(torch.empty(nhid, 2 * nhid * len(js)).uniform_(-INIT_RANGE, INIT_RANGE))
                for i, js in self.targets.items()
                if js
            }
        )

    def edge_weight(self, i: int, j: int) -> torch.Tensor:
        """``W_ij`` (nhid x 2 nhid, a view into the source's block): first half of the columns gives c, second h."""
        k = self.targets[i].index(j)
        return self.w_out[str(i)][:, 2 * self.nhid * k : 2 * self.nhid * (k + 1)]

    def step(self, x_proj: torch.Tensor, h_prev: torch.Tensor, h_mask: torch.Tensor | None) -> torch.Tensor:
        """One time step from the precomputed input projection ``x W0[:ninp]``."""
        nhid = self.nhid
        masked = h_prev if h_mask is None else h_prev * h_mask
        c0, h0 = (x_proj + masked @ self.w0[self.ninp :]).split(nhid, dim=-1)
        states = {0: _highway(h_prev, c0, h0, self.acts[0])}
        incoming: dict[int, list[torch.Tensor]] = {}
        for i in self.order:
            if i:
                parts = incoming.pop(i)
                states[i] = parts[0] if len(parts) == 1 else torch.stack(parts).sum(0) / len(parts)
            targets = self.targets[i]
            if not targets:
                continue
            s = states[i]
            ch = (s if h_mask is None else s * h_mask) @ self.w_out[str(i)]
            for k, j in enumerate(targets):
                c = ch[:, 2 * nhid * k : 2 * nhid * k + nhid]
                h = ch[:, 2 * nhid * k + nhid : 2 * nhid * (k + 1)]
                incoming.setdefault(j, []).append(_highway(s, c, h, self.acts[j]))
        leaves = [states[n] for n in self.leaves]
        return leaves[0] if len(leaves) == 1 else torch.stack(leaves).mean(0)

    def forward(
        self,
        x: torch.Tensor,
        hidden: torch.Tensor,
        x_mask: torch.Tensor | None = None,
        h_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the cell over ``x`` (T, B, ninp) from ``hidden`` (B, nhid); returns every step's state (T, B, nhid)."""
        if x_mask is not None:
            x = x * x_mask
        x_proj = x @ self.w0[: self.ninp]
        outputs = []
        for t in range(x.size(0)):
            hidden = self.step(x_proj[t], hidden, h_mask)
            outputs.append(hidden)
        return torch.stack(outputs)

    def macs_per_step(self) -> int:
        """Multiply-accumulates of one step: ``W0`` plus one nhid x 2 nhid matmul per built edge."""
        return (self.ninp + self.nhid) * 2 * self.nhid + len(self.topology.edges) * self.nhid * 2 * self.nhid


def _variational_mask(like: torch.Tensor, shape: tuple[int, ...], p: float) -> torch.Tensor | None:
    """A dropout mask reused at every time step (Gal & Ghahramani), scaled to keep the expectation."""
    if p <= 0:
        return None
    return like.new_empty(shape).bernoulli_(1 - p) / (1 - p)


@dataclass(frozen=True)
class Dropouts:
    """The DARTS / AWD-LSTM dropouts; all zero during the search."""

    output: float = 0.0
    x: float = 0.0
    h: float = 0.0
    input: float = 0.0
    embedding: float = 0.0


@dataclass
class LMOutput:
    logits: torch.Tensor  # (T * B, vocab)
    hidden: torch.Tensor  # (B, nhid), the state to carry into the next batch
    raw: torch.Tensor  # (T, B, nhid) cell outputs, for the slowness penalty
    dropped: torch.Tensor  # (T, B, nhid) the same after output dropout, for activation regularisation


class LanguageModel(nn.Module):
    """Embedding -> highway cell -> tied linear decoder, with variational and word-level dropout."""

    def __init__(self, topology: Topology, vocab_size: int, hidden: int, dropouts: Dropouts = Dropouts()) -> None:
        super().__init__()
        self.vocab_size, self.nhid = vocab_size, hidden
        self.dropouts = dropouts
        self.embedding = nn.Embedding(vocab_size, hidden)
        self.cell = HighwayCell(topology, hidden, hidden)
        self.decoder_bias = nn.Parameter(torch.zeros(vocab_size))
        nn.init.uniform_(self.embedding.weight, -INIT_RANGE, INIT_RANGE)

    def init_hidden(self, batch_size: int) -> torch.Tensor:
        return self.embedding.weight.new_zeros(batch_size, self.nhid)

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        weight = self.embedding.weight
        p = self.dropouts.embedding
        if self.training and p > 0:  # drop whole words: the same word is dropped everywhere in the batch
            keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p) / (1 - p)
            weight = weight * keep
        return F.embedding(tokens, weight)

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor) -> LMOutput:
        """``tokens`` (T, B) ids, ``hidden`` (B, nhid); dropout applies only in training mode."""
        d = self.dropouts if self.training else Dropouts()
        steps, batch = tokens.shape
        emb = self._embed(tokens)
        mask_i = _variational_mask(emb, (1, batch, self.nhid), d.input)
        if mask_i is not None:
            emb = emb * mask_i
        x_mask = _variational_mask(emb, (batch, self.nhid), d.x)
        h_mask = _variational_mask(emb, (batch, self.nhid), d.h)
        raw = self.cell(emb, hidden, x_mask, h_mask)
        mask_o = _variational_mask(raw, (1, batch, self.nhid), d.output)
        dropped = raw if mask_o is None else raw * mask_o
        logits = F.linear(dropped.reshape(steps * batch, self.nhid), self.embedding.weight, self.decoder_bias)
        return LMOutput(logits, raw[-1], raw, dropped)

    def macs_per_token(self) -> int:
        """Multiply-accumulates per predicted token: the cell step plus the tied decoder (lookup is free)."""
        return self.cell.macs_per_step() + self.nhid * self.vocab_size


@dataclass(frozen=True)
class LMCounts:
    params: int
    macs_per_token: int
    edges: int
    hidden: int
    vocab_size: int


def count_language_model(topology: Topology, hidden: int, vocab_size: int) -> LMCounts:
    """Parameters (tied embedding counted once) and per-token MACs, without data or real weights."""
    with torch.device("meta"):
        model = LanguageModel(topology, vocab_size, hidden)
    params = sum(p.numel() for p in model.parameters())
    return LMCounts(params, model.macs_per_token(), len(model.cell.topology.edges), hidden, vocab_size)


#: The registered name of every ``LanguageModel``.
LANGUAGE_MODEL = "rnn-language-model"


def language_model_spec(topology: Topology, vocab_size: int, hidden: int) -> NetworkSpec:
    """What a result file records to rebuild ``LanguageModel(topology, vocab_size, hidden)`` (dropouts act only
    in training, so inference needs none of them)."""
    return NetworkSpec(LANGUAGE_MODEL, {"cell": topology.to_dict(), "vocab_size": vocab_size, "hidden": hidden})


def _build_language_model(cell: dict, vocab_size: int, hidden: int) -> LanguageModel:
    return LanguageModel(Topology.from_dict(cell), vocab_size, hidden)


class BatchFirstLanguageModel(nn.Module):
    """A language model called with plain tensors, batch first: ``tokens`` (B, T) ids and ``hidden`` (B, nhid)
    in, ``logits`` (B, T, vocab) and the next ``hidden`` (B, nhid) out. Batch on axis 0 everywhere is the form
    exporters give a dynamic batch axis; T is fixed by the example the trace ran on."""

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model
        self.train(model.training)

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, steps = tokens.shape
        out = self.model(tokens.t(), hidden)
        return out.logits.view(steps, batch, -1).transpose(0, 1), out.hidden


def _token_inputs(
    model: nn.Module, shape: tuple[int, ...], batch: int, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """Random token ids, ``shape == (T,)`` per sequence, and a hidden state drawn from (-1, 1)."""
    tokens = torch.randint(0, model.vocab_size, (batch, *shape), generator=generator)
    return tokens, torch.rand(batch, model.nhid, generator=generator) * 2 - 1


register_network(
    LANGUAGE_MODEL,
    NetworkKind(_build_language_model, ("tokens", "hidden"), ("logits", "next_hidden"), _token_inputs,
                BatchFirstLanguageModel),
)


def _deployed_language_model(topology: Topology, facts: dict, hidden: int) -> tuple[NetworkSpec, tuple[int, ...]]:
    """The cell's language model: the data's vocabulary, ``hidden`` = embedding size (ShrinkRNN: 745)."""
    if hidden < 1:
        raise BadInputError("--hidden must be at least 1")
    return language_model_spec(topology, int(facts["n_classes"]), hidden), tuple(facts["input_shape"])


def _language_counts(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    counts = count_language_model(model.cell.topology, model.nhid, model.vocab_size)
    return {"params": counts.params, "macs_per_token": counts.macs_per_token, "edges": counts.edges,
            "hidden": counts.hidden, "vocab_size": counts.vocab_size}


HIDDEN_OPTION = KindOption("hidden", int, 745, "rnn cells: embedding = hidden size (ShrinkRNN: 745)")

register_deployment("rnn", Deployment(_deployed_language_model, (HIDDEN_OPTION,),
                                      {"input_shape": [35], "n_classes": 10000}, count=_language_counts))
