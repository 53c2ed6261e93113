"""Any found architecture as a table and a drawing, whatever its kind: each genome kind registers how it is shown.

``show`` prints the table and, with ``-o``, draws the picture; the HTML report embeds both.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInputError
from ..genome import Genome
from .text import View

#: Modules whose import registers the built-in kinds' views.
BUILTIN_VIEWS = ("shrinknas.report.cell",)


@dataclass(frozen=True)
class ArchitectureView:
    describe: Callable[[Genome], View]
    draw: Callable[[Genome, Path], None]


_VIEWS: dict[str, ArchitectureView] = {}


def register_view(kind: str, view: ArchitectureView) -> None:
    _VIEWS[kind] = view


def view_of(kind: str) -> ArchitectureView:
    if kind not in _VIEWS:
        for module in BUILTIN_VIEWS:
            importlib.import_module(module)
    try:
        return _VIEWS[kind]
    except KeyError:
        raise BadInputError(f"{kind} architectures cannot be shown") from None


def describe(genome: Genome) -> View:
    return view_of(genome.kind).describe(genome)


def draw(genome: Genome, path: Path | str) -> None:
    view_of(genome.kind).draw(genome, Path(path))
