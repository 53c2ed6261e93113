"""Progress as one event type: a method emits events, whoever runs it (the CLI, a notebook) renders them.

Kinds:
- ``note`` / ``warning``: a line for the user (what runs, what was read back, a default that was fitted);
- ``progress``: the run's overall progress, ``done`` of ``total`` (edges removed, epochs, stages);
- ``round``: a batch of work starts, ``total`` items under the label ``text`` (a step's candidates, say);
- ``advance``: one item of the round finished (``text``, when given, replaces the round's label).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["note", "warning", "progress", "round", "advance"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    text: str = ""
    done: int | None = None
    total: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The sink of a caller that shows nothing."""


def log_events(logger: Any) -> EventSink:
    """A sink that logs notes and warnings (a notebook or script without a progress display)."""

    def sink(event: Event) -> None:
        if event.kind == "note":
            logger.info(event.text)
        elif event.kind == "warning":
            logger.warning(event.text)

    return sink
