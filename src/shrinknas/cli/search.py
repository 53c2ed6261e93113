"""``shrinknas search METHOD``: one command per registered method, its options made from the method's flags.

A flag's type and help come from the settings field it sets (``Literal`` fields become choices, booleans
``--x/--no-x``), so the command, the Python API and the YAML file name and check a setting the same way.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from ..errors import BadInputError
from ..methods.base import Method, field_info, method_names, get_method, scalar_type
from .common import EventDisplay, available_cores, console, set_threads, warn_slow_bf16
from .views import print_view

search_app = typer.Typer(help="Run an architecture search.", no_args_is_help=True, rich_markup_mode=None)

#: Options every search has, whatever its method: (name, annotation, typer.Option)
RUN_OPTIONS: list[tuple[str, Any, Any]] = [
    ("config", Optional[Path], typer.Option(None, "--config", help="YAML file of settings; flags override it")),
    ("preset", Optional[str], typer.Option(None, help="named defaults (see the method's presets)")),
    ("out", Optional[Path], typer.Option(None, help="run directory (default runs/METHOD); one holding an unfinished "
                                         "run with the same settings is resumed")),
    ("force_new", bool, typer.Option(False, "--force-new", help="start over even if OUT holds a run")),
    ("workers", int, typer.Option(0, help="trials evaluated at once, each in its own process; 0: one per CPU core "
                                  "(at most as many as can run at once)")),
    ("executor", Optional[str], typer.Option(None, help="serial | pool | ray (default: pool when --workers > 1)")),
    ("ray_address", str, typer.Option("local", help="with --executor ray: local (start Ray here) | auto | HOST:PORT")),
    ("threads", int, typer.Option(1, help="torch threads per trial (1 is fastest for small candidates on a busy "
                                  "CPU; 0: this machine's cores / --workers); keep it when resuming")),
    ("quiet", bool, typer.Option(False, "--quiet", "-q", help="no progress bars")),
]


def flag_parameter(method: Method, flag: Any) -> inspect.Parameter:
    """A method's flag as a typer option: the field's type (or the flag's own), the flag's or the field's help."""
    found = None
    for kind_path in ([flag.paths] if isinstance(flag.paths, str) else list(flag.paths.values())):
        found = field_info(method.config, kind_path)
        if found is not None:
            break
    if found is None:
        raise ValueError(f"{method.name}: flag --{flag.name} names no setting ({flag.paths})")
    annotation, info = found
    kind = flag.type or scalar_type(annotation)
    help_text = flag.help or (info.description or "")
    names = (f"--{flag.name}/--no-{flag.name}",) if kind is bool else (f"--{flag.name}",)
    option = typer.Option(None, *names, help=help_text, metavar=flag.metavar)
    return inspect.Parameter(flag.python_name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=Optional[kind])


def make_search_command(method: Method) -> Callable[..., None]:
    def command(**options: Any) -> None:
        run = {name: options.pop(name) for name, _, _ in RUN_OPTIONS}
        search(method, run, options)

    params = [flag_parameter(method, flag) for flag in method.flags]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
               for name, annotation, option in RUN_OPTIONS]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = method.summary + f" Presets: {', '.join(method.presets)} (default {method.default_preset})."
    return command


def search(method: Method, run: dict[str, Any], flags: dict[str, Any]) -> None:
    """Build the settings, the executor and the display; run; print the result."""
    from ..methods.base import build_settings
    from ..methods.driver import run_method
    from ..run.executors import make_executor

    config = build_settings(method, run["preset"], run["config"], **flags)
    set_threads(run["threads"])
    training = getattr(config.task, "training", None)
    warn_slow_bf16(getattr(training, "precision", None), getattr(config.task, "device", None))
    if run["workers"] < 0:
        raise BadInputError(f"--workers must be 0 (one per core) or more, got {run['workers']}")
    workers = run["workers"] or (1 if run["executor"] == "serial" else
                                 max(1, min(available_cores(), method.parallel_trials(config))))
    per_trial = run["threads"] or max(1, available_cores() // workers)
    out = run["out"] or Path("runs") / method.name
    with make_executor(run["executor"], workers, run["ray_address"], threads_per_trial=per_trial) as executor, \
            EventDisplay(run["quiet"]) as display:
        summary = run_method(method, config, out, executor, force_new=run["force_new"], on_event=display)
    if method.result_view is not None:
        print_view(method.result_view(summary))
    console.print(f"run directory: {out}", markup=False)


def register_search_commands() -> None:
    for name in method_names():
        command = make_search_command(get_method(name))
        search_app.command(name, help=command.__doc__)(command)
