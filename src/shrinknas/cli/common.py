"""What every command shares: the consoles, one-line numbers, threads and workers, events shown as progress bars.

Nothing below the CLI prints; the library logs and emits events, and this module turns them into what a person
sees in a terminal.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ..errors import BadInputError
from ..run.events import Event

console = Console()
err = Console(stderr=True)


def with_kind_options(command: Any, options: list[Any]) -> Any:
    """``command`` with one keyword option per architecture-kind option (``nets.deploy.KindOption``), appended to
    its own parameters; it receives them in ``**kind_options``, None where not given."""
    import inspect
    from typing import Optional

    import typer

    import typing

    hints = typing.get_type_hints(command)  # the module's annotations are strings (postponed evaluation)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    extra = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[o.type],
                               default=typer.Option(None, o.flag, help=f"{o.help} (default {o.default})"))
             for o in options]

    def wrapped(**given: Any) -> Any:
        return command(**given)

    wrapped.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]
    wrapped.__doc__, wrapped.__name__ = command.__doc__, command.__name__
    return wrapped


def emit_json(data: Any) -> None:
    console.print_json(json.dumps(data))


def set_threads(threads: int) -> None:
    if threads < 0:
        raise BadInputError("--threads must be 0 (default) or a positive number")
    if threads:
        import torch

        torch.set_num_threads(threads)


def available_cores() -> int:
    """Cores this process may run on (a container's or taskset's share, not the whole machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def warn_slow_bf16(precision: str | None, device: str | None) -> None:
    from ..run.hardware import native_bf16

    if precision == "bf16" and (device or "cpu") == "cpu" and not native_bf16():
        err.print("[yellow]warning:[/] this CPU has no native bf16; --precision bf16 will train slower than fp32")


def progress_bars(quiet: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=quiet, transient=False)


class EventDisplay:
    """Events as two progress bars (the run's progress and the round under way) and lines of text.

    Bars start with the first event that needs them, so what is printed before (a refusal, the run's headline)
    stays above them."""

    def __init__(self, quiet: bool = False) -> None:
        self.progress = progress_bars(quiet)
        self.overall: TaskID | None = None
        self.round: TaskID | None = None

    def __call__(self, event: Event) -> None:
        if event.kind in ("note", "warning"):
            style = "[yellow]warning:[/] " if event.kind == "warning" else ""
            (self.progress.console if self.progress.live.is_started else console).print(
                style + event.text, markup=event.kind == "warning", highlight=False)
            return
        if not self.progress.live.is_started:
            self.progress.start()
        if event.kind == "progress":
            if self.overall is None:
                self.overall = self.progress.add_task(event.text, total=event.total or 1)
            self.progress.update(self.overall, description=event.text, completed=event.done or 0,
                                 total=event.total or 1)
        elif event.kind == "round":
            if self.round is None:
                self.round = self.progress.add_task(event.text, total=event.total or 1)
            self.progress.reset(self.round, total=event.total or 1, description=event.text)
        elif event.kind == "advance" and self.round is not None:
            self.progress.advance(self.round)
            if event.text:
                self.progress.update(self.round, description=event.text)

    def close(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def __enter__(self) -> "EventDisplay":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
