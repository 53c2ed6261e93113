"""``cost_quality.py`` (experiments/autoshrink/) puts a search's cost beside its final cell's fresh-seed score: it must
refuse a re-evaluation report that judged another cell than the run's final one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "experiments" / "autoshrink"
sys.path.insert(0, str(SCRIPTS))

import cost_quality  # noqa: E402  (experiments/autoshrink/ is a folder of scripts, not a package)


def write(tmp_path: Path, judged_cell: dict) -> None:
    (tmp_path / "searches" / "run").mkdir(parents=True)
    (tmp_path / "searches" / "run" / "summary.json").write_text(json.dumps(
        {"trial_seconds": 10.0, "confirm": {"trial_seconds": 2.5},
         "best": {"cell": {"kind": "cnn", "ops": ["input"], "edges": []}}}))
    (tmp_path / "judged").mkdir()
    (tmp_path / "judged" / "report.json").write_text(json.dumps({"cells": [
        {"run": "runs/x", "which": "best", "cell": judged_cell, "edges": len(judged_cell["edges"]), "macs": 1,
         "S_fresh_mean": 0.5}]}))


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setattr(cost_quality, "FOLDERS", tmp_path / "searches")
    monkeypatch.setattr(cost_quality, "JUDGED", tmp_path / "judged")
    return tmp_path


def test_a_search_point_is_its_search_and_confirm_seconds_and_its_cells_fresh_score(folders):
    write(folders, {"kind": "cnn", "ops": ["input"], "edges": []})
    point = cost_quality.search_point("default", 0, "run", "report.json", "runs/x")
    assert point["trial_seconds"] == 12.5 and point["S_fresh_mean"] == 0.5 and point["edges"] == 0


def test_a_report_that_judged_another_cell_than_the_runs_final_one_is_refused(folders):
    write(folders, {"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[0, 1]]})
    with pytest.raises(SystemExit, match="judged another cell"):
        cost_quality.search_point("default", 0, "run", "report.json", "runs/x")
