"""``shrinknas train``: a found architecture's network trained fully, on the run's data unless told otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import BadInputError
from ..report.format import fmt_macs, fmt_params
from .app import app
from .arch import resolve
from .common import console, emit_json, progress_bars, set_threads, warn_slow_bf16, with_kind_options
from .inspect import ARCH_HELP


def train(
    arch: Path = typer.Argument(..., help=ARCH_HELP),
    dataset: Optional[str] = typer.Option(None, help="train on this dataset (default: the run directory's own)"),
    epochs: Optional[int] = typer.Option(None, help="training epochs (default: cnn 20; rnn 8000 as DARTS, i.e. "
                                         "until stopped)"),
    lr: Optional[float] = typer.Option(None, help="cnn: Adam learning rate, cosine decay (4e-3); rnn: SGD then "
                                       "ASGD (20)"),
    batch_size: Optional[int] = typer.Option(None, help="default: cnn 128, rnn 64"),
    augment: bool = typer.Option(False, help="images: random crop and horizontal flip"),
    precision: str = typer.Option("fp32", help="images: fp32 | bf16 (autocast; pays where the CPU has native bf16)"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    threads: int = typer.Option(0, help="torch threads (0: torch's default)"),
    out: Optional[Path] = typer.Option(None, help="write result.json and weights here (for export)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    **kind_options: Any,
) -> None:
    """Train the network an architecture becomes on the whole training set; report test accuracy (images) or
    validation and test perplexity (rnn cells: the paper's recipe), and its size."""
    from ..train.final import Recipe, train_found

    target = resolve(arch, dataset)
    data = dataset or (target.facts or {}).get("dataset")
    if data is None:
        raise BadInputError(f"{arch} is an architecture file: name the data to train on with --dataset")
    set_threads(threads)
    warn_slow_bf16(precision, device)
    recipe = Recipe(epochs, lr, batch_size, augment, precision, seed, device)
    with progress_bars(as_json) as progress:
        bar = progress.add_task("epochs", total=epochs)

        def on_epoch(epoch: int, metrics: dict) -> None:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k in ("val_acc", "val_ppl", "test_acc")
                              and isinstance(v, float))
            progress.update(bar, completed=epoch, description=f"epoch {epoch} {shown}")

        report = train_found(target.genome, data, recipe, out, on_epoch, **kind_options)
    if as_json:
        emit_json(report)
        return
    quality = (f"val_ppl {report['val_ppl']:.2f}  test_ppl {report['test_ppl']:.2f}" if "test_ppl" in report
               else f"test_acc {report['test_acc']:.4f}")
    macs = f"MACs/token {fmt_macs(report['macs'])}" if "test_ppl" in report else f"MACs {fmt_macs(report['macs'])}"
    console.print(f"{quality}  {macs}  params {fmt_params(report['params'])}  ({report['epochs']} epochs, "
                  f"{report['seconds']:.1f} s)" + (f"; saved to {out}" if out else ""), markup=False)


def _register() -> None:
    from ..train.final import final_options

    app.command()(with_kind_options(train, final_options()))


_register()
