"""The method contract: a method is a settings model, named presets, flags, and a run function.

``shrinknas search METHOD`` and ``shrinknas.search(METHOD, ...)`` are both made from a registered ``Method``: its
flags become the command's options and the function's keywords, its presets the defaults of both, so the same
words give the same search from a terminal and from a notebook. Precedence, lowest first: the settings model's
defaults, the preset, a YAML file, the flags.
"""

from __future__ import annotations

import importlib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..config import identity, load_yaml, validated
from ..errors import BadInputError
from ..report.text import View

if TYPE_CHECKING:
    from ..run.events import EventSink
    from ..run.store import RunStore
    from .driver import RunContext

#: Modules whose import registers the built-in methods.
BUILTIN_METHODS = ("shrinknas.methods.autoshrink",)


@dataclass(frozen=True)
class Flag:
    """One setting as a command-line option and a Python keyword.

    ``paths`` is where the value goes in the settings tree (dotted), or, where that depends on the task kind, a
    mapping from task kind to path (``"*"``: any other kind). ``help`` defaults to the field's description."""

    name: str
    paths: str | Mapping[str, str]
    help: str = ""
    metavar: str | None = None
    type: Any = None  # what the command line parses, where not the field's own type (a number or "off")

    def path_for(self, task_kind: str | None) -> str | None:
        if isinstance(self.paths, str):
            return self.paths
        return self.paths.get(task_kind or "", self.paths.get("*"))

    @property
    def python_name(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class RunStatus:
    """What ``runs ls`` and ``runs show`` say of a run beyond its trials: the method's own view of its progress."""

    progress: str  # short, for the listing: "4 (+9/10)", "epoch 12/40"
    score: float | None = None  # the final answer's score so far
    score_name: str = "score"
    view: View = View()  # more for ``runs show``
    data: Mapping[str, Any] = field(default_factory=dict)  # for ``runs show --json``


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    summary: str
    config: type[BaseModel]
    run: Callable[[Any, "RunContext"], dict[str, Any]]
    flags: tuple[Flag, ...] = ()
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"default": {}})
    default_preset: str = "default"
    #: the method's view of a stored run, for ``runs ls/show``
    status: Callable[["RunStore"], RunStatus] | None = None
    #: what a resumed run must share with the stored one (default: every setting)
    stored_identity: Callable[[Any], dict[str, Any]] = identity
    #: settings that depend on the data, fixed before the run starts (a proxy size that fits the dataset)
    prepare: Callable[[Any, "EventSink"], Any] | None = None
    #: files of its own in a run directory, removed by ``--force-new``
    files: tuple[str, ...] = ()
    #: one line naming the settings worth naming when the run starts (the CLI's header)
    headline: Callable[[Any], str] | None = None
    #: the finished run's result as the CLI prints it, from its summary
    result_view: Callable[[Mapping[str, Any]], View] | None = None
    #: draw the run's own curves (``runs plot``, the report) to an image file
    plot: Callable[[Path, Path], None] | None = None
    plot_file: str = "curves.png"
    #: how many trials can usefully train at once (the default of ``--workers``: this many, at most one per core)
    parallel_trials: Callable[[Any], int] = lambda config: 1_000_000

    def flag(self, name: str) -> Flag:
        wanted = name.replace("_", "-")
        for f in self.flags:
            if f.name == wanted:
                return f
        raise BadInputError(f"{self.name} has no setting {name!r}; known: {', '.join(f.python_name for f in self.flags)}")


_METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    _METHODS[method.name] = method
    return method


def method_names() -> list[str]:
    _load_builtin()
    return sorted(_METHODS)


def get_method(name: str) -> Method:
    _load_builtin()
    try:
        return _METHODS[name]
    except KeyError:
        raise BadInputError(f"unknown method {name!r}; expected one of {', '.join(sorted(_METHODS))}") from None


def _load_builtin() -> None:
    for module in BUILTIN_METHODS:
        importlib.import_module(module)


# ------------------------------------------------------------------------------------------------- settings
def settings_tree(method: Method, preset: str | None = None, config_file: Path | str | None = None,
                  values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings tree of a run before validation: the preset, a YAML file over it, the given flags over that."""
    name = preset or method.default_preset
    if name not in method.presets:
        raise BadInputError(f"{method.name} has no preset {name!r}; expected one of {', '.join(method.presets)}")
    tree = _deep_copy(method.presets[name])
    if config_file is not None:
        loaded = load_yaml(Path(config_file))
        if loaded is not None and not isinstance(loaded, dict):
            raise BadInputError(f"{config_file}: expected a mapping of settings at the top level")
        _merge(tree, loaded or {})
    given = {k: v for k, v in (values or {}).items() if v is not None}
    flags = {name: method.flag(name) for name in given}
    kind = _task_kind(tree, given) or _default_task_kind(method)
    for name, value in given.items():
        path = flags[name].path_for(kind)
        if path is None:
            kinds = sorted(k for k in flags[name].paths if k != "*") if isinstance(flags[name].paths, Mapping) else []
            raise BadInputError(f"--{flags[name].name} applies to {' and '.join(kinds)} tasks; add --task {kinds[0]}"
                                if kinds else f"--{flags[name].name} does not apply here")
        _set(tree, path, value)
    return tree


def build_settings(method: Method | str, preset: str | None = None, config_file: Path | str | None = None,
                   **values: Any) -> Any:
    """The validated settings of a run, from a preset, a YAML file and flag values (Python names or CLI names)."""
    method = get_method(method) if isinstance(method, str) else method
    return validated(method.config, settings_tree(method, preset, config_file, values), "settings")


def _task_kind(tree: Mapping[str, Any], given: Mapping[str, Any]) -> str | None:
    task = tree.get("task")
    return given.get("task") or (task.get("task") if isinstance(task, Mapping) else None)


def _default_task_kind(method: Method) -> str | None:
    """The task kind of the method's default settings (AutoShrink: cnn)."""
    try:
        return getattr(getattr(method.config(), "task", None), "task", None)
    except Exception:  # a settings model without defaults for everything names no default kind
        return None


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        child = tree.get(p)
        if not isinstance(child, dict):
            child = tree[p] = {}
        tree = child
    tree[leaf] = value


def _merge(into: dict, other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = _deep_copy(value) if isinstance(value, Mapping) else value


def _deep_copy(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in tree.items()}


# ----------------------------------------------------------------------------------------- flag introspection
def field_info(model: type[BaseModel], dotted: str) -> tuple[Any, Any] | None:
    """(annotation, FieldInfo) of the field at a dotted path, looking into every model of a union on the way."""
    head, _, rest = dotted.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return None
    if not rest:
        return info.annotation, info
    for candidate in _models_in(info.annotation):
        found = field_info(candidate, rest)
        if found is not None:
            return found
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def scalar_type(annotation: Any) -> Any:
    """The type a flag parses: the annotation without its ``None`` (``int | None`` is an int flag)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return scalar_type(args[0])
    return annotation
