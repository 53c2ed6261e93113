"""The genome protocol: what every architecture of every method is, as plain data.

A genome is immutable and hashable, names its ``kind`` in its JSON, round-trips through ``to_dict`` /
``from_dict`` and has a canonical ``key()`` (equal keys: the same network). Genomes know nothing of torch; the
builders in ``nets/`` turn them into modules. Each kind registers its class here, so a file of any kind loads
through one call.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar, runtime_checkable

from ..errors import BadInputError


@runtime_checkable
class Genome(Protocol):
    """An architecture as data (``kind``: which builder and evaluator apply)."""

    @property
    def kind(self) -> str: ...

    def key(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


_KINDS: dict[str, Callable[[Any], Genome]] = {}
G = TypeVar("G")


def register(*kinds: str) -> Callable[[type[G]], type[G]]:
    """Class decorator: ``from_dict`` of the class reads genomes whose JSON names one of ``kinds``."""

    def add(cls: type[G]) -> type[G]:
        for kind in kinds:
            _KINDS[kind] = cls.from_dict  # type: ignore[attr-defined]
        return cls

    return add


def genome_kinds() -> list[str]:
    _load_builtin_kinds()
    return sorted(_KINDS)


def genome_from_dict(data: Any) -> Genome:
    """The genome a JSON object describes, whatever its kind."""
    _load_builtin_kinds()
    if not isinstance(data, dict):
        raise BadInputError("an architecture must be a JSON object with a 'kind'")
    kind = data.get("kind")
    if kind not in _KINDS:
        raise BadInputError(f"unknown architecture kind {kind!r}; expected one of {sorted(_KINDS)}")
    return _KINDS[kind](data)


def genome_from_json(text: str, source: str = "architecture") -> Genome:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return genome_from_dict(data)


def load_genome(path: Path | str) -> Genome:
    """An architecture file of any kind; every problem with it is one line naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise BadInputError(f"architecture file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read architecture file {path}: {exc}") from None
    try:
        return genome_from_json(text, str(path))
    except BadInputError as exc:
        message = str(exc)
        raise BadInputError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def digest(payload: Any) -> str:
    """A 16-hex-digit key of a JSON-able payload (canonical: sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _load_builtin_kinds() -> None:
    """Importing a kind's module registers it; the built-in kinds are always known."""
    from . import dag_cell, dso_block, layer_seq  # noqa: F401
