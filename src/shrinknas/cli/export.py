"""``shrinknas export``: a found or trained network as ONNX, TorchScript or a state dict, with its model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .app import app
from .arch import resolve
from .common import console, with_kind_options

ARCH_OR_TRAINED = ("a directory written by `train --out` (its trained weights), a run directory (its final "
                   "architecture, fresh weights) or an architecture file")


def export(
    arch: Path = typer.Argument(..., help=ARCH_OR_TRAINED),
    format: str = typer.Option("onnx", "--format", help="onnx | torchscript (traced) | state-dict"),
    output: Path = typer.Option(..., "-o", "--output", help="file to write; its model card goes beside it (.json)"),
    dataset: Optional[str] = typer.Option(None, help="build it for this dataset (input, classes, normalisation)"),
    input_shape: Optional[str] = typer.Option(None, help="build it for this input, C,H,W"),
    classes: Optional[int] = typer.Option(None, help="classes of the output (with --input-shape; default 10)"),
    seed: int = typer.Option(0, help="seed of fresh weights"),
    **kind_options: Any,
) -> None:
    """Write the network with what it needs to be used on raw inputs (input shape, normalisation, class names) in
    its metadata and in a JSON beside it; checks the file against PyTorch's output before saying it is done."""
    from ..export import export_found

    facts = None
    if dataset is not None or input_shape is not None:
        target = resolve(arch, dataset, input_shape, classes) if not (arch / "result.json").is_file() else None
        facts = target.facts if target is not None else None
    done = export_found(arch, format, output, facts, seed, **kind_options)
    origin = (f"trained weights from {arch / 'weights.pt'}" if done.weights == "trained" else
              f"freshly initialised weights (seed {seed}); train it with --out DIR and export DIR for trained ones")
    console.print(f"exported {format} to {output} with {origin}; model card {output}.json; max abs difference "
                  f"to PyTorch {done.max_abs_difference:.2e}", markup=False)


def _register() -> None:
    from ..nets.deploy import deployment_options

    app.command()(with_kind_options(export, deployment_options()))


_register()
