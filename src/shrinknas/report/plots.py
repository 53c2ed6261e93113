"""A run's own curves, drawn by its method (AutoShrink: the trajectory; DSO-NAS: sparsity and FLOPs by epoch)."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInputError


def draw_run(run_dir: Path | str, output: Path | str | None = None) -> Path:
    """Draw ``run_dir``'s curves to ``output`` (default: the method's file in DIR, AutoShrink's trajectory.png)."""
    from ..methods.results import run_method

    method = run_method(run_dir)
    if method.plot is None:
        raise BadInputError(f"{method.name} runs have no curves to draw")
    path = Path(output) if output is not None else Path(run_dir) / method.plot_file
    method.plot(run_dir, path)
    return path
