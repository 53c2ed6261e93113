"""``shrinknas cell``: cells made without a search, to compare a search's cell against (AutoShrink Table 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import console

cell_app = typer.Typer(help="Make cells without a search: random graphs (RandWire's recipe) or the complete DAG.",
                       no_args_is_help=True, rich_markup_mode=None)


@cell_app.command("random")
def cell_random(
    graph: str = typer.Option(..., help="ws (Watts-Strogatz) | er (Erdos-Renyi) | ba (Barabasi-Albert) | complete"),
    nodes: int = typer.Option(8, help="nodes of the cell, the input included (AutoShrink's N)"),
    seed: int = typer.Option(0, help="which graph and which ops"),
    kind: str = typer.Option("cnn", help="cnn | rnn"),
    k: Optional[int] = typer.Option(None, help="ws: neighbours of each node in the ring (RandWire: 4)"),
    p: Optional[float] = typer.Option(None, help="ws: rewiring chance (0.75); er: edge chance (0.2)"),
    m: Optional[int] = typer.Option(None, help="ba: edges of each new node (RandWire: 5)"),
    output: Path = typer.Option(..., "-o", "--output", help="cell file to write (JSON)"),
) -> None:
    """Write a cell from a random graph turned into a DAG the way RandWire does; train it like any cell."""
    from ..genome.random_graphs import random_cell
    from ..run.rundir import write_atomic

    params = {name: value for name, value in {"k": k, "p": p, "m": m}.items() if value is not None}
    cell = random_cell(graph, nodes, seed, kind=kind, **params)
    write_atomic(output, cell.to_json(indent=2) + "\n")
    console.print(f"{cell} -> {output}", markup=False)
