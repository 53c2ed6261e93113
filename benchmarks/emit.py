"""The one way a benchmark hands over its result: JSON saved to ``--out`` (before printing, so a closed pipe
cannot lose it), then printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(report: dict[str, Any], out: str | None) -> None:
    text = json.dumps(report, indent=2)
    if out:
        Path(out).write_text(text + "\n")
    print(text)
