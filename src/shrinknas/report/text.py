"""What a method or an architecture says of itself as text: lines, tables and warnings, drawn by the CLI in the
terminal and by the report as HTML."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableView:
    """A table to show: the CLI draws it, the report writes it as HTML."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class View:
    """What a method says of a run or its result, as text: lines, tables and warnings."""

    lines: tuple[str, ...] = ()  # before the tables
    tables: tuple[TableView, ...] = ()
    warnings: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()  # after the tables
