"""Writing a matplotlib figure the way every drawing here does: headless, closed after, a bad path as bad input."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..errors import BadInputError  # noqa: E402


def save_figure(fig: Figure, path: Path | str, dpi: int) -> None:
    """The format follows the file's suffix (png, svg, pdf); an unknown one or an unwritable path is exit 2."""
    try:
        fig.savefig(path, dpi=dpi)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot write drawing {path}: {exc}") from None
    finally:
        plt.close(fig)
