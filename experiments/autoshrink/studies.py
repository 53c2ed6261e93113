"""What the studies share: the one way an experiment hands over its result (JSON saved to ``--out`` before printing,
so a closed pipe cannot lose it; benchmarks/emit.py's rule, since each folder of scripts runs on its own), and how
to read a summary entry's cell from folders of every version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(report: dict[str, Any], out: str | None) -> None:
    text = json.dumps(report, indent=2)
    if out:
        Path(out).write_text(text + "\n")
    print(text)


def cell_of(entry: dict[str, Any]) -> dict[str, Any]:
    """A summary entry's cell: ``genome`` since every method's summary names one, ``cell`` in folders from before."""
    return entry["genome"] if "genome" in entry else entry["cell"]
