"""Every committed ``faithful_projection_*.json`` is what ``benchmarks/faithful_projection.py`` computes today from the
committed result folders it names: README's whole-search ratios cannot drift from the code without a failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

import faithful_projection  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

REPORTS = sorted(RESULTS.glob("faithful_projection_*.json"))
PATHS = ("run", "paper_run")


def test_the_committed_projections_are_there_to_check() -> None:
    assert len(REPORTS) >= 19  # a moved folder would otherwise leave the test below with nothing to run


def folder(named: str) -> str:
    """A report's folder, named from the repository root or from benchmarks/ (where some were made)."""
    return str(ROOT / named if (ROOT / named).exists() else ROOT / "benchmarks" / named)


def without_paths(report: dict) -> dict:
    fit = {k: v for k, v in report["fit"].items() if k != "calibrated_to"}
    return {**{k: v for k, v in report.items() if k not in PATHS}, "fit": fit}


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.stem)
def test_a_committed_projection_is_what_the_script_computes(report: Path, tmp_path, monkeypatch) -> None:
    stored = json.loads(report.read_text())
    args = [folder(stored["run"]), "--paper-run", folder(stored["paper_run"]), "--out", str(tmp_path / "p.json")]
    if "calibrated_to" in stored["fit"]:
        args += ["--calibrate-to", folder(stored["fit"]["calibrated_to"])]
    elif "calibrated_by" in stored["fit"]:
        args.append("--calibrate")
    monkeypatch.setattr(sys, "argv", ["faithful_projection.py", *args])
    faithful_projection.main()
    assert without_paths(json.loads((tmp_path / "p.json").read_text())) == without_paths(stored)


def test_the_measured_n5_ratios_are_the_readme_s() -> None:
    """README: with the default's from-scratch parts, 3.0x, 6.6x and 4.5x trial time at N=5 seeds 0-2."""
    ratios = [json.loads((RESULTS / f"faithful_projection_fm5_seed{s}.json").read_text())["measured_faithful"]
              ["ratio_faithful_over_fast"] for s in range(3)]
    assert ratios == [3.0, 6.6, 4.5]
    readme = (ROOT / "README.md").read_text()
    assert "**3.0x, 6.6x, 4.5x** at seeds 0-2" in readme and "**3.0x, 6.6x and 4.5x fewer**" in readme


def test_the_measured_n8_ratio_is_the_readme_s() -> None:
    """README ("A faithful search at N=8, to the end"): 119 cells, 32,356 trial seconds, 0.56 of the fast default's
    cells, 8.4x its trial seconds."""
    report = json.loads((RESULTS / "faithful_projection_fm8_plain_measured.json").read_text())
    measured = report["measured_faithful"]
    assert (measured["cells"], measured["trial_seconds"]) == (119, 32356)
    assert (measured["cells_over_fast_cells"], measured["ratio_faithful_over_fast"]) == (0.56, 8.4)
    assert "**8.4x**" in (ROOT / "README.md").read_text()
