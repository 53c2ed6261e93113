"""The one way an experiment hands over its result: JSON saved to ``--out`` (before printing, so a closed pipe
cannot lose it), then printed. The same helper as benchmarks/emit.py: each folder of scripts runs on its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(report: dict[str, Any], out: str | None) -> None:
    text = json.dumps(report, indent=2)
    if out:
        Path(out).write_text(text + "\n")
    print(text)
