"""DSO-NAS's search space and the architectures it derives, as plain data (paper section 3.2, eqs. 3-4; no torch).

A block is a DAG on numbered nodes: 0 is the block input, op j (0-based) of level i (1..M) is node
``1 + (i - 1) * N + j``, and ``M * N + 1`` is the block output. An edge goes from a lower level to a higher one:
the input feeds every op, every op feeds the ops of later levels and the output. There is no edge from the input
to the output: the residual (eq. 4) is always there, and a block without edges is the identity. A network is S
stages of B such blocks with a reduction block between stages (a stride-2 1x1 and 3x3 Conv-BN-ReLU, summed).

The supernet holds one scaling factor per edge. The paper's eq. 3 scales level-1 inputs too; the authors' code
feeds level 1 the raw block input, so with ``scale_level1=False`` those edges carry no factor and are kept as long
as their op lives. ``share`` gives all normal blocks one set of factors (one wiring in the genome), ``full`` one
per block.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Sequence

from ..errors import BadInputError
from .base import digest, register

Edge = tuple[int, int]
BlockEdges = tuple[Edge, ...]

#: The paper's four ops, in the authors' order.
OPS: tuple[str, ...] = ("sepconv3x3", "sepconv5x5", "maxpool3x3", "avgpool3x3")
#: The two branches of a reduction block.
BRANCHES: tuple[str, ...] = ("conv1x1", "conv3x3")
SPACES: tuple[str, ...] = ("share", "full")


@dataclass(frozen=True)
class DsoSpace:
    """The supernet's shape: ``stages`` stages of ``blocks`` blocks of ``levels`` levels of ``ops``.

    ``width`` is the channel count of the first stage (each reduction block doubles it).
    """

    stages: int = 3
    blocks: int = 8
    levels: int = 4
    ops: tuple[str, ...] = OPS
    width: int = 48
    space: str = "share"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        for name in ("stages", "blocks", "levels", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadInputError(f"{name} must be a whole number of at least 1, got {value!r}")
        if not self.ops:
            raise BadInputError(f"a block needs at least one op; choose from {list(OPS)}")
        unknown = [op for op in self.ops if op not in OPS]
        if unknown:
            raise BadInputError(f"unknown DSO-NAS op {unknown[0]!r}; expected some of {list(OPS)}")
        if len(set(self.ops)) != len(self.ops):
            raise BadInputError(f"ops {list(self.ops)} list an op twice; give each op once")
        if self.space not in SPACES:
            raise BadInputError(f"unknown search space {self.space!r}; expected one of {list(SPACES)}")

    # ----- nodes and edges -----
    @property
    def n_ops(self) -> int:
        return self.levels * len(self.ops)

    @property
    def output(self) -> int:
        """The block output's node id."""
        return self.n_ops + 1

    def level(self, node: int) -> int:
        """0 for the input, 1..M for ops, M + 1 for the output."""
        return 0 if node == 0 else self.levels + 1 if node == self.output else (node - 1) // len(self.ops) + 1

    def op_name(self, node: int) -> str:
        return self.ops[(node - 1) % len(self.ops)]

    def op_nodes(self) -> range:
        return range(1, self.n_ops + 1)

    def complete_edges(self) -> BlockEdges:
        """Every edge of the fully connected block, sorted."""
        nodes = range(self.output + 1)
        return tuple((u, v) for u in nodes for v in nodes
                     if self.level(u) < self.level(v) and (u, v) != (0, self.output))

    def lambda_edges(self, scale_level1: bool = True) -> BlockEdges:
        """The edges that carry a scaling factor, in the order of a block's factor vector."""
        return tuple(e for e in self.complete_edges() if scale_level1 or not self._fixed(e))

    def fixed_edges(self, scale_level1: bool = True) -> BlockEdges:
        """Edges without a factor (the raw level-1 inputs of the authors' variant)."""
        return () if scale_level1 else tuple(e for e in self.complete_edges() if self._fixed(e))

    def _fixed(self, edge: Edge) -> bool:
        return edge[0] == 0 and self.level(edge[1]) == 1

    # ----- blocks of the network -----
    @property
    def n_searched(self) -> int:
        """How many wirings the genome holds: one shared, or one per normal block."""
        return 1 if self.space == "share" else self.stages * self.blocks

    @property
    def n_reductions(self) -> int:
        return self.stages - 1

    def wiring_of(self, stage: int, block: int) -> int:
        """Which wiring (and factor set) block ``block`` of stage ``stage`` uses."""
        return 0 if self.space == "share" else stage * self.blocks + block

    # ----- conversions -----
    def to_dict(self) -> dict[str, Any]:
        return {"stages": self.stages, "blocks": self.blocks, "levels": self.levels, "ops": list(self.ops),
                "width": self.width, "space": self.space}

    @classmethod
    def from_dict(cls, data: Any) -> "DsoSpace":
        if not isinstance(data, dict):
            raise BadInputError("a DSO-NAS space must be a JSON object with stages, blocks, levels, ops, width, space")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise BadInputError(f"unknown DSO-NAS space setting {unknown[0]!r}; expected some of "
                                f"{sorted(cls.__dataclass_fields__)}")
        ops = data.get("ops", OPS)
        if not isinstance(ops, (list, tuple)) or not all(isinstance(o, str) for o in ops):
            raise BadInputError("space 'ops' must be a list of op names")
        return cls(**{**data, "ops": tuple(ops)})


@register("dso")
@dataclass(frozen=True)
class DsoArch:
    """A derived DSO-NAS network: the live edges of each wiring and the kept branches of each reduction block.

    Every edge lies on a path from the block input to the block output (``prune_dead`` holds); each reduction
    block keeps at least one branch.
    """

    space: DsoSpace
    blocks: tuple[BlockEdges, ...]
    reductions: tuple[tuple[str, ...], ...]
    kind: ClassVar[str] = "dso"

    def __post_init__(self) -> None:
        blocks = tuple(_edges(edges, f"block {i}") for i, edges in enumerate(self.blocks))
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "reductions", tuple(_branches(r, i) for i, r in enumerate(self.reductions)))
        space = self.space
        if len(blocks) != space.n_searched:
            raise BadInputError(f"a {space.space} space of {space.stages} x {space.blocks} blocks needs "
                                f"{space.n_searched} block wiring(s), got {len(blocks)}")
        if len(self.reductions) != space.n_reductions:
            raise BadInputError(f"{space.stages} stages need {space.n_reductions} reduction block(s), got "
                                f"{len(self.reductions)}")
        for i, edges in enumerate(blocks):
            for u, v in edges:
                _check_edge(space, (u, v), f"block {i}")
            dead = sorted(set(edges) - set(prune_dead(space, edges)))
            if dead:
                raise BadInputError(f"block {i}: edge {list(dead[0])} is on no path from the block input (node 0) to "
                                    f"its output (node {space.output}); remove it")

    @classmethod
    def complete(cls, space: DsoSpace) -> "DsoArch":
        """The supernet itself: every edge, both branches."""
        return cls(space, (space.complete_edges(),) * space.n_searched, (BRANCHES,) * space.n_reductions)

    def wiring(self, stage: int, block: int) -> BlockEdges:
        return self.blocks[self.space.wiring_of(stage, block)]

    @property
    def kept_edges(self) -> tuple[int, ...]:
        """Edges of each wiring: what a random baseline of the same size keeps."""
        return tuple(len(edges) for edges in self.blocks)

    def key(self) -> str:
        return digest(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "space": self.space.to_dict(),
                "blocks": [[list(e) for e in edges] for edges in self.blocks],
                "reductions": [list(r) for r in self.reductions]}

    @classmethod
    def from_dict(cls, data: Any) -> "DsoArch":
        if not isinstance(data, dict):
            raise BadInputError("a dso architecture must be a JSON object with space, blocks and reductions")
        missing = [k for k in ("space", "blocks", "reductions") if k not in data]
        if missing:
            raise BadInputError(f"dso architecture is missing {', '.join(missing)}")
        unknown = sorted(set(data) - {"kind", "space", "blocks", "reductions"})
        if unknown:
            raise BadInputError(f"dso architecture has an unknown key {unknown[0]!r}")
        blocks, reductions = data["blocks"], data["reductions"]
        if not isinstance(blocks, list) or not all(isinstance(b, list) for b in blocks):
            raise BadInputError("dso 'blocks' must be a list of blocks, each a list of [from, to] edges")
        if not isinstance(reductions, list) or not all(isinstance(r, list) for r in reductions):
            raise BadInputError(f"dso 'reductions' must be a list of branch lists, each some of {list(BRANCHES)}")
        return cls(DsoSpace.from_dict(data["space"]), tuple(blocks), tuple(reductions))

    def __str__(self) -> str:
        s = self.space
        return (f"dso {s.space} {s.stages}x{s.blocks} blocks of {s.levels} levels x {len(s.ops)} ops, width {s.width}: "
                f"{'/'.join(map(str, self.kept_edges))} edges, reductions "
                f"{' '.join('+'.join(r) for r in self.reductions) or '-'}")


# ----- structure of one block -----
def prune_dead(space: DsoSpace, edges: Iterable[Edge]) -> BlockEdges:
    """The edges on some path from the block input to its output: an op with no live input, or with no live path
    to the output, goes with all its edges."""
    edges = sorted(set(edges))
    forward = {0}
    for u, v in edges:  # sorted by source, and a source's level is below its targets'
        if u in forward:
            forward.add(v)
    backward = {space.output}
    for u, v in reversed(edges):
        if v in backward:
            backward.add(u)
    return tuple((u, v) for u, v in edges if u in forward and v in backward)


def live_ops(space: DsoSpace, edges: BlockEdges) -> list[int]:
    """Op nodes a (pruned) wiring computes, in order."""
    return sorted({v for _, v in edges if v != space.output})


def inputs_of(edges: BlockEdges, node: int) -> list[int]:
    return [u for u, v in edges if v == node]


# ----- derivation and random structures -----
def derive(
    space: DsoSpace,
    block_lambdas: Sequence[Sequence[float]],
    reduction_lambdas: Sequence[Sequence[float]],
    scale_level1: bool = True,
) -> DsoArch:
    """The architecture the scaling factors describe (paper section 4.1 step 3): keep an edge iff its factor is
    above zero, drop ops with no live input or no live path to the output (a block left empty is the identity),
    and keep at least one branch of each reduction block (the one with the larger factor; on a tie the 3x3)."""
    edges = space.lambda_edges(scale_level1)
    fixed = space.fixed_edges(scale_level1)
    if len(block_lambdas) != space.n_searched:
        raise ValueError(f"expected {space.n_searched} factor vectors, got {len(block_lambdas)}")
    blocks = []
    for values in block_lambdas:
        if len(values) != len(edges):
            raise ValueError(f"a block has {len(edges)} factors, got {len(values)}")
        blocks.append(prune_dead(space, [e for e, lam in zip(edges, values) if lam > 0] + list(fixed)))
    reductions = []
    for values in reduction_lambdas:
        if len(values) != len(BRANCHES):
            raise ValueError(f"a reduction block has {len(BRANCHES)} factors, got {len(values)}")
        kept = tuple(b for b, lam in zip(BRANCHES, values) if lam > 0)
        reductions.append(kept or (BRANCHES[max(range(len(BRANCHES)), key=lambda i: (values[i], i))],))
    return DsoArch(space, tuple(blocks), tuple(reductions))


def random_arch(
    space: DsoSpace,
    kept_edges: int | Sequence[int],
    rng: random.Random,
    reductions: Sequence[Sequence[str]] | None = None,
) -> DsoArch:
    """A random structure with ``kept_edges`` edges in each wiring (one count for all, or one per wiring): the
    random-share / random-full baselines of the paper's Table 1. Reduction blocks keep ``reductions`` (default:
    both branches)."""
    counts = [kept_edges] * space.n_searched if isinstance(kept_edges, int) else list(kept_edges)
    if len(counts) != space.n_searched:
        raise BadInputError(f"a {space.space} space has {space.n_searched} wiring(s); give that many edge counts, "
                            f"got {len(counts)}")
    chosen = reductions if reductions is not None else (BRANCHES,) * space.n_reductions
    return DsoArch(space, tuple(random_block(space, n, rng) for n in counts), tuple(tuple(r) for r in chosen))


def random_block(space: DsoSpace, n_edges: int, rng: random.Random) -> BlockEdges:
    """A random wiring of exactly ``n_edges`` live edges, grown from the input and output. Each step makes one
    move, chosen uniformly among all: an edge between two live nodes, a new op with one edge in and one out, or a
    new op placed on an edge (u -> w -> v instead of u -> v). Every move keeps each edge on an input-output path;
    with two or more levels no count in range is a dead end (one level allows even counts only)."""
    complete = space.complete_edges()
    if isinstance(n_edges, bool) or not isinstance(n_edges, int) or not (n_edges == 0 or 2 <= n_edges <= len(complete)):
        raise BadInputError(f"a random block keeps 0 or 2..{len(complete)} edges (a live op needs one in and one "
                            f"out), got {n_edges!r}")
    if space.levels == 1 and n_edges % 2:
        raise BadInputError(f"a one-level block has two edges per live op; ask for an even count, got {n_edges}")
    edges: set[Edge] = set()
    live = {0, space.output}
    level = space.level
    while len(edges) < n_edges:
        free = [w for w in space.op_nodes() if w not in live]
        moves: list[tuple[set[Edge], set[Edge]]] = [({e}, set()) for e in complete
                                                     if e[0] in live and e[1] in live and e not in edges]
        moves += [({(u, w), (w, v)}, {(u, v)}) for u, v in sorted(edges) for w in free
                  if level(u) < level(w) < level(v)]
        if n_edges - len(edges) >= 2:
            for w in free:
                moves += [({(u, w), (w, v)}, set()) for u in sorted(live) if level(u) < level(w)
                          for v in sorted(live) if level(v) > level(w)]
        assert moves, "a dead end: the moves above always leave one with two or more levels"
        added, removed = rng.choice(moves)
        edges = (edges - removed) | added
        live.update(v for e in added for v in e)
    return tuple(sorted(edges))


# ----- validation of hand-written files -----
def _edges(edges: Any, where: str) -> BlockEdges:
    if not isinstance(edges, (list, tuple)) or not all(
        isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in e)
        for e in edges
    ):
        raise BadInputError(f"{where}: edges must be a list of [from, to] integer pairs")
    pairs = [(int(u), int(v)) for u, v in edges]
    if len(set(pairs)) != len(pairs):
        raise BadInputError(f"{where}: an edge is listed twice")
    return tuple(sorted(pairs))


def _check_edge(space: DsoSpace, edge: Edge, where: str) -> None:
    u, v = edge
    last = space.output
    if not (0 <= u <= last and 0 <= v <= last):
        raise BadInputError(f"{where}: edge {list(edge)} names a node outside 0..{last}")
    if (u, v) == (0, last):
        raise BadInputError(f"{where}: edge {list(edge)} joins the input to the output; the residual is implicit, "
                            "remove it")
    if space.level(u) >= space.level(v):
        raise BadInputError(f"{where}: edge {list(edge)} goes from level {space.level(u)} to level {space.level(v)}; "
                            "an edge must go to a higher level")


def _branches(kept: Any, index: int) -> tuple[str, ...]:
    if not isinstance(kept, (list, tuple)) or not all(isinstance(b, str) for b in kept):
        raise BadInputError(f"reduction block {index}: branches must be a list of names from {list(BRANCHES)}")
    unknown = [b for b in kept if b not in BRANCHES]
    if unknown:
        raise BadInputError(f"reduction block {index}: unknown branch {unknown[0]!r}; expected some of {list(BRANCHES)}")
    if len(set(kept)) != len(kept):
        raise BadInputError(f"reduction block {index}: a branch is listed twice")
    if not kept:
        raise BadInputError(f"reduction block {index} keeps no branch; keep at least one of {list(BRANCHES)}")
    return tuple(b for b in BRANCHES if b in kept)
