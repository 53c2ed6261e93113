"""A method's ``View`` (lines, tables, warnings) drawn in the terminal."""

from __future__ import annotations

from rich.table import Table

from ..report.text import TableView, View
from .common import console, err


def print_table(view: TableView) -> None:
    table = Table(title=view.title)
    for i, col in enumerate(view.columns):
        table.add_column(col, justify="left" if i == 0 and not view.rows or (view.rows and not _numeric(view.rows[0][i]))
                         else "right")
    for row in view.rows:
        table.add_row(*row)
    console.print(table)


def print_view(view: View) -> None:
    for line in view.lines:
        console.print(line, markup=False, highlight=False)
    for table in view.tables:
        print_table(table)
    for line in view.footer:
        console.print(line, markup=False, highlight=False)
    for warning in view.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "", 1).replace(" M", "").strip().isdigit() or text == "-"
