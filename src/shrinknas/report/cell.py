"""Drawings of cells: nodes coloured by op, the input and the output marked, laid out by depth."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

from ..genome.dag_cell import Topology  # noqa: E402
from .text import TableView, View  # noqa: E402
from .architecture import ArchitectureView, register_view  # noqa: E402
from .figures import save_figure  # noqa: E402

OP_COLOURS = {
    "input": "#d9d9d9",
    "output": "#d9d9d9",
    "conv1x1": "#8dd3c7",
    "sepconv3x3": "#fdb462",
    "sepconv5x5": "#fb8072",
    "maxpool3x3": "#bebada",
    "avgpool3x3": "#b3de69",
    "relu": "#8dd3c7",
    "sigmoid": "#fdb462",
    "tanh": "#80b1d3",
    "identity": "#fccde5",
}


def cell_graph(topology: Topology) -> nx.DiGraph:
    """The reachable part of a cell plus an explicit output node fed by the leaves."""
    cell = topology.pruned()
    live = cell.reachable()
    g = nx.DiGraph()
    for i in sorted(live):
        g.add_node(i, op=cell.ops[i], label=f"{i}\n{cell.ops[i]}")
    g.add_edges_from(cell.edges)
    out = "out"
    g.add_node(out, op="output", label="output\n(concat)" if cell.kind == "cnn" else "output\n(mean)")
    for leaf in cell.leaves():
        g.add_edge(leaf, out)
    return g


def _edge_bends(g: nx.DiGraph, pos: dict, clearance: float = 0.3) -> dict:
    """Curvature per edge: straight unless the straight line would run through another node, then bent away.

    matplotlib's arc3 puts the control point at midpoint + rad * (dy, -dx); the sign is chosen to move it
    away from the nearest node the straight line would cross.
    """
    bends = {}
    for u, v in g.edges:
        (x1, y1), (x2, y2) = pos[u], pos[v]
        dx, dy = x2 - x1, y2 - y1
        length2 = dx * dx + dy * dy or 1.0
        blockers = []
        for w in g.nodes:
            if w in (u, v):
                continue
            px, py = pos[w]
            t = ((px - x1) * dx + (py - y1) * dy) / length2
            if 0 < t < 1 and math.hypot(x1 + t * dx - px, y1 + t * dy - py) < clearance:
                blockers.append((px, py))
        if not blockers:
            bends[(u, v)] = 0.0
            continue
        px, py = blockers[0]
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        away = lambda r: math.hypot(mx + r * dy - px, my - r * dx - py)  # noqa: E731
        bends[(u, v)] = 0.4 if away(0.4) > away(-0.4) else -0.4
    return bends


def draw_cell(topology: Topology, path: Path | str, title: str | None = None) -> None:
    """Save a picture of the cell; the format follows the file suffix."""
    g = cell_graph(topology)
    for node in nx.topological_sort(g):
        preds = list(g.predecessors(node))
        g.nodes[node]["layer"] = 1 + max((g.nodes[p]["layer"] for p in preds), default=-1)
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal", scale=2)
    pos = {n: (x, -y) for n, (x, y) in pos.items()}  # input on top
    width = max(4.0, 1.6 * max(sum(1 for n in g if g.nodes[n]["layer"] == k) for k in range(len(g))))
    fig, ax = plt.subplots(figsize=(width, 1.3 * (1 + max(nx.get_node_attributes(g, "layer").values()))))
    colours = [OP_COLOURS.get(g.nodes[n]["op"], "#ffffff") for n in g]
    for (u, v), rad in _edge_bends(g, pos).items():
        nx.draw_networkx_edges(g, pos, edgelist=[(u, v)], ax=ax, arrows=True, arrowsize=14, node_size=2200,
                               edge_color="#555555", connectionstyle=f"arc3,rad={rad}")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=2200, edgecolors="#333333")
    nx.draw_networkx_labels(g, pos, labels=nx.get_node_attributes(g, "label"), ax=ax, font_size=8)
    ax.set_title(title or f"{topology.kind} cell: {len(topology.pruned().edges)} edges")
    ax.margins(0.12)
    ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def describe_cell(topology: Topology) -> View:
    """Every node: its op, its inputs, its role (the input, an output leaf, unreachable)."""
    live, leaves = topology.reachable(), set(topology.leaves())
    first = "input" if topology.kind == "cnn" else "highway from x, h_prev"
    rows = tuple((str(i), op, ", ".join(map(str, topology.predecessors(i))),
                  first if i == 0 else "unreachable" if i not in live else "output (leaf)" if i in leaves else "")
                 for i, op in enumerate(topology.ops))
    table = TableView(f"{topology.kind} cell, {len(topology.edges)} edges", ("node", "op", "inputs", "role"), rows)
    edges = " ".join(f"{u}->{v}" for u, v in topology.edges) or "(none)"
    return View((f"edges: {edges}",), (table,))


for _kind in ("cnn", "rnn"):
    register_view(_kind, ArchitectureView(describe_cell, lambda genome, path: draw_cell(genome, path)))
