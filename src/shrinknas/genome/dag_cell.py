"""The DAG genome every search shrinks: one op per node, edges i -> j with i < j, node 0 the cell input.

Plain data, no torch: a Topology is immutable and hashable, so it can be a dict key, a cache key and a
message between processes. Builders in ``nets/`` turn it into modules.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, Iterable

import networkx as nx

from ..errors import BadInputError
from .base import register

Edge = tuple[int, int]

INPUT = "input"
#: Node ops a CNN cell may hold (node 0 is always ``input``). The search assigns only the first two.
CNN_OPS: tuple[str, ...] = ("conv1x1", "sepconv3x3", "sepconv5x5", "maxpool3x3", "avgpool3x3")
CNN_SEARCH_OPS: tuple[str, ...] = ("conv1x1", "sepconv3x3")
#: Activations of RNN highway nodes; node 0 carries one as well (the authors' cells list one per node).
RNN_OPS: tuple[str, ...] = ("relu", "sigmoid", "tanh", "identity")
KINDS: dict[str, tuple[str, ...]] = {"cnn": CNN_OPS, "rnn": RNN_OPS}


@register("cnn", "rnn")
@dataclass(frozen=True)
class Topology:
    """A cell: ``ops[i]`` is node i's operation, ``edges`` sorted pairs (i, j) with i < j."""

    kind: str
    ops: tuple[str, ...]
    edges: tuple[Edge, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "edges", tuple(sorted({(int(u), int(v)) for u, v in self.edges})))
        self._validate()

    def _validate(self) -> None:
        if self.kind not in KINDS:
            raise BadInputError(f"unknown cell kind {self.kind!r}; expected one of {sorted(KINDS)}")
        if len(self.ops) < 1:
            raise BadInputError("a cell needs at least one node (node 0, the input)")
        allowed = KINDS[self.kind]
        for i, op in enumerate(self.ops):
            if self.kind == "cnn" and i == 0:
                if op != INPUT:
                    raise BadInputError(f"node 0 of a cnn cell must be {INPUT!r}, got {op!r}")
            elif op not in allowed:
                raise BadInputError(f"node {i}: unknown {self.kind} op {op!r}; expected one of {list(allowed)}")
        n = len(self.ops)
        for u, v in self.edges:
            if u == v:
                raise BadInputError(f"edge ({u}, {v}) is a self-loop")
            if not (0 <= u < n and 0 <= v < n):
                raise BadInputError(f"edge ({u}, {v}) names a node outside 0..{n - 1}")
            if u > v:
                raise BadInputError(f"edge ({u}, {v}) points backwards; edges go from lower to higher node ids")

    # ----- construction -----
    @classmethod
    def complete(cls, kind: str, ops: Iterable[str]) -> "Topology":
        """The complete DAG on the given ops: an edge i -> j for every i < j."""
        ops = tuple(ops)
        n = len(ops)
        return cls(kind, ops, tuple((i, j) for i in range(n) for j in range(i + 1, n)))

    def without(self, edge: Edge) -> "Topology":
        """This cell minus one edge, with edges of nodes no longer reachable from the input dropped."""
        edge = (int(edge[0]), int(edge[1]))
        if edge not in self.edges:
            raise BadInputError(f"edge {edge} is not in the cell")
        return Topology(self.kind, self.ops, tuple(e for e in self.edges if e != edge)).pruned()

    def pruned(self) -> "Topology":
        """Drop every edge whose source cannot be reached from node 0: such nodes are never built."""
        live = self.reachable()
        kept = tuple(e for e in self.edges if e[0] in live)
        return self if kept == self.edges else Topology(self.kind, self.ops, kept)

    def shrink_space(self) -> list[tuple[Edge, "Topology"]]:
        """Paper eq. (4): every cell one edge removal away, keyed by the removed edge."""
        return [(e, self.without(e)) for e in self.edges]

    # ----- structure -----
    @property
    def n_nodes(self) -> int:
        return len(self.ops)

    def predecessors(self, node: int) -> list[int]:
        """Inputs of a node in ascending order: the order its inputs are concatenated in."""
        return [u for u, v in self.edges if v == node]

    def reachable(self) -> frozenset[int]:
        """Nodes reachable from the input (node 0 included)."""
        seen = {0}
        for u, v in self.edges:  # edges are sorted by source and sources precede targets
            if u in seen:
                seen.add(v)
        return frozenset(seen)

    def leaves(self) -> list[int]:
        """Reachable nodes with no outgoing edge: their outputs form the cell output."""
        live = self.reachable()
        sources = {u for u, _ in self.edges}
        return sorted(n for n in live if n not in sources)

    def key(self) -> str:
        """Canonical identity of the network this cell builds (unreachable parts do not matter)."""
        cell = self.pruned()
        live = cell.reachable()
        ops = [op if i in live else "-" for i, op in enumerate(cell.ops)]
        text = json.dumps([cell.kind, ops, cell.edges], separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    # ----- conversions -----
    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ops": list(self.ops), "edges": [list(e) for e in self.edges]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> "Topology":
        if not isinstance(data, dict):
            raise BadInputError("a cell must be a JSON object with keys 'kind', 'ops' and 'edges'")
        missing = [k for k in ("kind", "ops", "edges") if k not in data]
        if missing:
            raise BadInputError(f"cell is missing {', '.join(missing)}")
        kind, ops, edges = data["kind"], data["ops"], data["edges"]
        if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
            raise BadInputError("cell 'ops' must be a list of op names")
        if not isinstance(edges, list) or not all(
            isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in e)
            for e in edges
        ):
            raise BadInputError("cell 'edges' must be a list of [from, to] integer pairs")
        if len({tuple(e) for e in edges}) != len(edges):
            raise BadInputError("cell 'edges' lists an edge twice")
        topo = cls(str(kind), tuple(ops), tuple(tuple(e) for e in edges))
        if topo.kind == "cnn" and not nx.is_directed_acyclic_graph(topo.to_networkx()):
            raise BadInputError("cell has a cycle")  # unreachable given i<j, kept as the contract
        return topo

    @classmethod
    def from_json(cls, text: str) -> "Topology":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"cell is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return cls.from_dict(data)

    def to_networkx(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for i, op in enumerate(self.ops):
            g.add_node(i, op=op)
        g.add_edges_from(self.edges)
        return g

    def __str__(self) -> str:
        edges = " ".join(f"{u}->{v}" for u, v in self.edges) or "(no edges)"
        return f"{self.kind} cell [{', '.join(self.ops)}] {edges}"


def edges_cut_off(parent: Topology, child: Topology) -> int:
    """Further edges a one-edge removal took with it (those of the nodes it left without input)."""
    return max(len(parent.edges) - len(child.edges) - 1, 0)


def balanced_ops(kind: str, n_nodes: int, rng: random.Random) -> tuple[str, ...]:
    """Node ops for a fresh search, drawn from ``rng``.

    CNN: the authors shuffle ``[i % 2 for i in range(N)]`` so conv1x1 and sepconv3x3 are exactly balanced;
    node 0 is the input. RNN: every node (node 0 included) draws an activation uniformly.
    """
    if n_nodes < 2:
        raise BadInputError(f"a cell needs at least 2 nodes, got {n_nodes}")
    if kind == "cnn":
        choice = [i % 2 for i in range(n_nodes)]
        rng.shuffle(choice)
        return (INPUT,) + tuple(CNN_SEARCH_OPS[c] for c in choice[1:])
    if kind == "rnn":
        return tuple(rng.choice(RNN_OPS) for _ in range(n_nodes))
    raise BadInputError(f"unknown cell kind {kind!r}")
