"""The ``shrinknas`` command group every command module adds itself to."""

import typer

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Find small, fast neural networks by shrinking large ones (AutoShrink, DSO-NAS, architecture compression).",
    no_args_is_help=True,
)
