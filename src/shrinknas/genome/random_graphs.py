"""Cells wired by random graph generators, and the complete DAG: the baselines of AutoShrink's Table 4.

RandWire's recipe (Xie et al. 2019) turns an undirected random graph into a DAG: each edge points from the
lower to the higher node index, and an extra input node feeds every node that has no predecessor. Here the
input is node 0 and the generator's nodes are 1..N-1, so ``nodes`` counts every node of the cell, as
AutoShrink's N does (N = 8: the complete DAG has 28 edges). The cell's output is the concat of its leaves, as for
every AutoShrink cell; node ops follow the search's balanced rule (``balanced_ops``).

Defaults are RandWire's (WS k=4, p=0.75; ER p=0.2; BA m=5, chosen for 32 nodes) wherever the N-1 generator
nodes allow them; for fewer nodes the counts are capped: WS's k at the largest even number below N-1 (the ring
lattice then nears the complete graph) and BA's m at (N-1) // 2, where a BA graph has the most edges
(m (n - m)); larger m would thin it towards a star. ER's p is a fraction and holds at any N.

Example::

    cell = random_cell("ws", nodes=15, seed=3)             # Table 4's random-graph cells have N = 15
    dense = random_cell("complete", nodes=8, seed=0)       # its complete DAG: N = 8, 28 edges
"""

from __future__ import annotations

import random
from typing import Any, Callable

import networkx as nx

from ..errors import BadInputError
from .dag_cell import Topology, balanced_ops

GRAPHS = ("ws", "er", "ba", "complete")


def _ws_defaults(n: int) -> dict[str, Any]:
    return {"k": min(4, (n - 1) // 2 * 2), "p": 0.75}


def _er_defaults(n: int) -> dict[str, Any]:
    return {"p": 0.2}


def _ba_defaults(n: int) -> dict[str, Any]:
    return {"m": min(5, n // 2)}


def _ws(n: int, rng: random.Random, k: Any, p: Any) -> nx.Graph:
    if not isinstance(k, int) or k < 2 or k % 2 or k >= n:
        raise BadInputError(f"ws needs an even k with 2 <= k < {n} (the generator's nodes), got k={k!r}")
    return nx.watts_strogatz_graph(n, k, _probability("ws", p), seed=rng)


def _er(n: int, rng: random.Random, p: Any) -> nx.Graph:
    return nx.erdos_renyi_graph(n, _probability("er", p), seed=rng)


def _ba(n: int, rng: random.Random, m: Any) -> nx.Graph:
    if not isinstance(m, int) or not 1 <= m < n:
        raise BadInputError(f"ba needs an integer m with 1 <= m < {n} (the generator's nodes), got m={m!r}")
    return nx.barabasi_albert_graph(n, m, seed=rng)


#: graph name -> (defaults for n generator nodes, generator over nodes 0..n-1)
_GENERATORS: dict[str, tuple[Callable[[int], dict[str, Any]], Callable[..., nx.Graph]]] = {
    "ws": (_ws_defaults, _ws),
    "er": (_er_defaults, _er),
    "ba": (_ba_defaults, _ba),
}


def graph_defaults(graph: str, nodes: int) -> dict[str, Any]:
    """The parameters ``random_cell`` uses for ``graph`` on a cell of ``nodes`` nodes unless told others.

    >>> graph_defaults("ba", 8)
    {'m': 3}
    """
    _check(graph, nodes)
    return {} if graph == "complete" else _GENERATORS[graph][0](nodes - 1)


def random_cell(graph: str, nodes: int, seed: int, kind: str = "cnn", **graph_params: Any) -> Topology:
    """A ``kind`` cell of ``nodes`` nodes wired by ``graph`` (ws, er, ba, or the complete DAG), the same for the
    same seed; ``graph_params`` override the defaults (ws: k, p; er: p; ba: m).

    >>> random_cell("er", nodes=8, seed=0, p=0.5).n_nodes
    8
    """
    _check(graph, nodes)
    rng = random.Random(seed)
    if graph == "complete":
        if graph_params:
            raise BadInputError(f"the complete DAG takes no parameters, got {', '.join(sorted(graph_params))}")
        return Topology.complete(kind, balanced_ops(kind, nodes, rng))
    defaults, generate = _GENERATORS[graph]
    params = defaults(nodes - 1)
    unknown = sorted(set(graph_params) - set(params))
    if unknown:
        raise BadInputError(f"{graph} takes parameters {', '.join(sorted(params))}, not {', '.join(unknown)}")
    params.update(graph_params)
    undirected = generate(nodes - 1, rng, **params)
    ops = balanced_ops(kind, nodes, rng)
    return Topology(kind, ops, dag_edges(undirected))


def dag_edges(graph: nx.Graph) -> tuple[tuple[int, int], ...]:
    """RandWire's DAG of a graph on nodes 0..n-1 as cell edges: node i becomes i + 1, each edge points to the
    higher index, and node 0 (the input) feeds every node left without a predecessor."""
    edges = {(min(u, v) + 1, max(u, v) + 1) for u, v in graph.edges}
    fed = {v for _, v in edges}
    edges |= {(0, v + 1) for v in graph.nodes if v + 1 not in fed}
    return tuple(sorted(edges))


def _check(graph: str, nodes: int) -> None:
    if graph not in GRAPHS:
        raise BadInputError(f"unknown graph {graph!r}; expected one of {list(GRAPHS)}")
    least = 4 if graph == "ws" else 3  # a ring lattice needs k >= 2 neighbours among fewer than n nodes
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < least:
        raise BadInputError(f"a {graph} cell needs at least {least} nodes (the input included), got {nodes!r}")


def _probability(graph: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise BadInputError(f"{graph} needs a probability p with 0 <= p <= 1, got p={p!r}")
    return float(p)
