"""The ``shrinknas`` command: parse, validate, call one function, print.

One module per command group: ``search`` (generated from the method registry), ``runs``, ``train``, ``show`` and
``profile``, ``export``, ``cell``. Errors a user can cause print one line and exit 2; Ctrl-C exits 130. Nothing
below this package prints.
"""

from __future__ import annotations

import logging
import shlex
import sys

import typer
from typer.exceptions import TyperException

from ..errors import ShrinkNASError
from . import export, inspect, train  # noqa: F401  (each adds its commands to the app)
from .app import app
from .cell import cell_app
from .common import console, err
from .runs import runs_app
from .search import register_search_commands, search_app

app.add_typer(search_app, name="search")
app.add_typer(runs_app, name="runs")
app.add_typer(cell_app, name="cell")
register_search_commands()

INTERRUPTED = 130


def _interrupted_message(argv: list[str]) -> str:
    """For a search: the command that resumes it (the same one, without --force-new, which would start over)."""
    if argv[:1] != ["search"]:
        return "interrupted"
    again = shlex.join(["shrinknas", *(a for a in argv if a != "--force-new")])
    return f"interrupted; every finished trial is saved. resume with: {again}"


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="shrinknas", standalone_mode=False)
    except ShrinkNASError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except TyperException as exc:  # typer vendors click: its usage errors derive from TyperException
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            console.print(ctx.get_help(), markup=False, highlight=False)
            sys.exit(0)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        code = INTERRUPTED
    if code == INTERRUPTED:  # typer turns Ctrl-C inside a command into this exit code
        err.print(_interrupted_message(sys.argv[1:] if argv is None else argv), markup=False, soft_wrap=True)
    sys.exit(code if isinstance(code, int) else 0)
