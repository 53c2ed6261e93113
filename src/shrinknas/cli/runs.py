"""``shrinknas runs ls | show | plot``: every run's state and progress, as its method sees it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.table import Table

from ..errors import BadInputError, ShrinkNASError
from ..report.format import fmt_float, fmt_seconds, fmt_when
from .common import console, emit_json
from .views import print_view

runs_app = typer.Typer(help="List runs and their progress.", no_args_is_help=True, rich_markup_mode=None)


def _status(store):  # the method's view; a method this version does not know still lists its trials
    from ..methods.base import RunStatus, get_method

    method = store.meta("method") or "?"
    try:
        found = get_method(method).status
    except BadInputError:
        found = None
    return found(store) if found is not None else RunStatus(progress="-")


@runs_app.command("ls")
def runs_ls(directory: Path = typer.Argument(Path("runs"), help="a run directory, or a folder of them")) -> None:
    """List runs with their state, progress and the final answer's score so far."""
    from ..run.store import RunStore, find_runs

    table = Table(title=f"runs in {directory}", box=box.SIMPLE_HEAD)
    for col in ("run", "method", "state", "progress", "trainings", "final score", "time", "updated"):
        table.add_column(col, justify="left" if col in ("run", "method", "state") else "right")
    unreadable = []
    for path in find_runs(directory):
        try:
            with RunStore.read(path) as store:
                p, status = store.progress(), _status(store)
        except ShrinkNASError as exc:
            unreadable.append(str(exc))
            table.add_row(_run_name(path, directory), "?", "damaged", *["-"] * 5)
            continue
        trials = f"{p.trials} ({p.failed} failed)" if p.failed else str(p.trials)
        score = "-" if status.score is None else f"{fmt_float(status.score)} ({status.score_name})"
        table.add_row(_run_name(path, directory), p.method, p.state, status.progress, trials, score,
                      fmt_seconds(p.trial_seconds), fmt_when(p.updated, short=True))
    if not table.rows:
        console.print(f"no runs in {directory}")
        return
    console.print(table)
    if unreadable:
        raise BadInputError(f"{len(unreadable)} unreadable run(s); first: {unreadable[0]}")


@runs_app.command("show")
def runs_show(
    directory: Path = typer.Argument(..., help="a run directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """One run's settings, progress and its method's account of it (AutoShrink: the cell kept at every step)."""
    from ..run.store import RunStore

    with RunStore.read(directory) as store:
        p, config, status = store.progress(), store.config(), _status(store)
    if as_json:
        emit_json({**asdict(p), "path": str(p.path), "config": config, "progress_text": status.progress,
                   "score": status.score, **status.data})
        return
    console.print(f"{p.path}: {p.method} run, {p.state}", markup=False)
    console.print(f"trainings {p.trials} ({p.failed} failed), trial time {fmt_seconds(p.trial_seconds)}, "
                  f"started {fmt_when(p.started)}, last update {fmt_when(p.updated)}", markup=False)
    if p.round_label and p.state != "finished":
        console.print(f"last round of trainings: {p.round_label}, {p.round_done} of {p.round_total} finished "
                      f"(round started {fmt_when(p.round_started)})", markup=False)
    print_view(status.view)
    if p.state in ("interrupted", "stopped", "failed"):
        console.print("resume it by running the same search command with the same --out", markup=False)


@runs_app.command("plot")
def runs_plot(
    directory: Path = typer.Argument(..., help="a run directory (finished or still running)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="image to write (png, svg, pdf; default DIR/trajectory.png)"),
) -> None:
    """Draw a run's curves: AutoShrink's trajectory (every candidate's S by step, the kept path, finalists)."""
    from ..report.plots import draw_run

    path = draw_run(directory, output)
    console.print(f"drawn to {path}", markup=False)


def _run_name(path: Path, root: Path) -> str:
    return str(path) if path == root else path.name
