"""``shrinknas show`` and ``shrinknas profile``: what an architecture is, and what it costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..report.format import fmt_macs, fmt_params
from .app import app
from .arch import resolve
from .common import console, emit_json, with_kind_options
from .views import print_view

ARCH_HELP = "an architecture file (JSON), or a run directory (its final architecture and its data)"


@app.command()
def show(
    arch: Path = typer.Argument(..., help=ARCH_HELP),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="draw it to this image (png, svg, pdf)"),
) -> None:
    """Print an architecture (a cell's nodes and edges, a block's live ops, a network's layers); draw it with -o."""
    from ..report.architecture import describe, draw

    target = resolve(arch)
    print_view(describe(target.genome))
    if output is not None:
        draw(target.genome, output)
        console.print(f"drawn to {output}", markup=False)


def profile(
    arch: Path = typer.Argument(..., help=ARCH_HELP),
    dataset: Optional[str] = typer.Option(None, help="build it for this dataset's input and classes"),
    input_shape: Optional[str] = typer.Option(None, help="build it for this input, C,H,W (e.g. 3,32,32)"),
    classes: Optional[int] = typer.Option(None, help="classes of the output (with --input-shape; default 10)"),
    latency: bool = typer.Option(False, help="also measure CPU latency: warm-up, then timed passes, in torch and "
                                 "onnxruntime (onnxruntime needs the export extra)"),
    batch: int = typer.Option(32, help="with --latency: the batch size measured besides batch 1"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    **kind_options: Any,
) -> None:
    """Params, MACs and memory access of the network an architecture becomes (rnn cells: per token); the data is
    the run directory's unless --dataset or --input-shape says otherwise (a bare file: 3x32x32, 10 classes)."""
    from ..nets.deploy import build, counts

    target = resolve(arch, dataset, input_shape, classes)
    model, spec, shape = build(target.genome, target.facts, **kind_options)
    report: dict[str, Any] = {"kind": target.genome.kind, "network": spec.builder, "input": list(shape),
                              **counts(target.genome.kind, model, shape)}
    if latency:
        report["latency"] = measured_latency(model, shape, batch)
    if as_json:
        emit_json(report)
        return
    console.print(str(target.genome), markup=False)
    console.print(f"{target.genome.kind} architecture as {spec.builder}, input {'x'.join(map(str, shape))}: "
                  + ", ".join(_shown(name, value) for name, value in report.items()
                              if name in ("params", "macs", "macs_per_token", "memory_access")), markup=False,
                  soft_wrap=True)
    for row in report.get("latency", ()):
        console.print(f"latency, {row['runtime']}, batch {row['batch']}: {row['median_seconds'] * 1e3:.2f} ms "
                      f"(interquartile range {row['spread_seconds'] * 1e3:.2f} ms)", markup=False)


def measured_latency(model: Any, shape: tuple[int, ...], batch: int) -> list[dict[str, Any]]:
    from dataclasses import asdict

    from ..errors import BadInputError
    from ..resources import measure_latencies

    if batch < 1:
        raise BadInputError("--batch must be 1 or more")
    try:
        import onnxruntime  # noqa: F401

        runtimes: tuple[str, ...] = ("torch", "onnxruntime")
    except ImportError:
        runtimes = ("torch",)
    return [asdict(row) for row in measure_latencies(model, shape, tuple(sorted({1, batch})), runtimes)]


def _shown(name: str, value: Any) -> str:
    if name == "params":
        return f"params {fmt_params(value)}"
    if name in ("macs", "macs_per_token"):
        return f"{'MACs/token' if name == 'macs_per_token' else 'MACs'} {fmt_macs(value)}"
    return f"memory access {value / 1e6:.2f} M elements"


def _register() -> None:
    from ..nets.deploy import deployment_options

    app.command()(with_kind_options(profile, deployment_options()))


_register()
