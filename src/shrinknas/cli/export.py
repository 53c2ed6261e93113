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
    from ..export import ModelCard, export_difference, load_trained
    from ..export import export as write
    from ..nets.deploy import build

    if (arch / "result.json").is_file() and (arch / "weights.pt").is_file():
        model, card = load_trained(arch)
        origin = f"trained weights from {arch / 'weights.pt'}"
    else:
        target = resolve(arch, dataset, input_shape, classes)
        model, spec, shape = build(target.genome, target.facts, seed, **kind_options)
        facts = normalised_facts(target.facts)
        card = ModelCard(spec, shape, int(spec.arguments.get("n_classes", spec.arguments.get("vocab_size", 0))),
                         tuple(facts.get("class_names", ())), tuple(facts.get("mean", ())),
                         tuple(facts.get("std", ())), "fresh", facts.get("dataset"))
        origin = f"freshly initialised weights (seed {seed}); train it with --out DIR and export DIR for trained ones"
    write(model, card, format, output)
    difference = export_difference(output, model) if format != "state-dict" else 0.0
    console.print(f"exported {format} to {output} with {origin}; model card {output}.json; max abs difference "
                  f"to PyTorch {difference:.2e}", markup=False)


def normalised_facts(facts: dict | None) -> dict:
    """The data facts with the normalisation a training on that dataset uses (mean and std of its images)."""
    if not facts or "dataset" not in facts or len(facts.get("input_shape", ())) != 3:
        return dict(facts or {})
    from ..train.final import image_facts

    return {**facts, **image_facts(facts["dataset"])}


def _register() -> None:
    from ..nets.deploy import deployment_options

    app.command()(with_kind_options(export, deployment_options()))


_register()
