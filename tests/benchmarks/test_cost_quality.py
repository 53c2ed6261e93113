"""README's cost-against-worth figure of the N=8 searches is what ``benchmarks/cost_quality.py`` computes from the
committed run folders and re-evaluation reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import cost_quality  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

COMMITTED = BENCHMARKS / "results" / "cost_quality_fm8.json"


def test_the_committed_figure_is_what_the_script_computes(tmp_path, monkeypatch):
    out = tmp_path / "cq.json"
    monkeypatch.setattr(sys, "argv", ["cost_quality.py", "--out", str(out)])
    cost_quality.main()
    assert json.loads(out.read_text()) == json.loads(COMMITTED.read_text())
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_the_readme_figures_of_the_default_and_bf16():
    """README: the default's searches cost 3,865, 3,521 and 3,187 trial seconds and their cells score 0.807, 0.796,
    0.806 on fresh seeds; bf16's 1,829, 2,676, 2,465 (2,465.48) for 0.805, 0.796, 0.813."""
    report = json.loads(COMMITTED.read_text())
    by = {(p["way"], p["seed"]): (p["trial_seconds"], round(p["S_fresh_mean"], 3)) for p in report["searches"]}
    assert [by["default", s] for s in range(3)] == [(3865.0, 0.807), (3520.8, 0.796), (3186.6, 0.806)]
    assert [by["--precision bf16", s] for s in range(3)] == [(1829.3, 0.805), (2676.3, 0.796), (2465.5, 0.813)]


def test_a_report_that_judged_another_cell_than_the_runs_final_one_is_refused(tmp_path, monkeypatch):
    results = tmp_path / "results"
    (results / "run").mkdir(parents=True)
    (results / "run" / "summary.json").write_text(json.dumps(
        {"trial_seconds": 10.0, "best": {"cell": {"kind": "cnn", "ops": ["input"], "edges": []}}}))
    (results / "report.json").write_text(json.dumps({"cells": [
        {"run": "runs/x", "which": "best", "cell": {"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[0, 1]]},
         "edges": 1, "macs": 1, "S_fresh_mean": 0.5}]}))
    monkeypatch.setattr(cost_quality, "RESULTS", results)
    with pytest.raises(SystemExit, match="judged another cell"):
        cost_quality.search_point("default", 0, "run", "report.json", "runs/x")
