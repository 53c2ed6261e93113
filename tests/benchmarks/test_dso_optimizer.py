"""The DSO-NAS optimizer benchmark's code on a tiny setting: both measurements run and report (no timing asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import dso_optimizer  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def test_both_measurements_run_on_a_tiny_supernet(tmp_path, monkeypatch, capsys):
    out = tmp_path / "dso.json"
    monkeypatch.setattr(sys, "argv", [
        "dso_optimizer.py", "--dataset", "digits", "--images", "200", "--stages", "2", "--blocks", "1", "--levels",
        "2", "--width", "4", "--batch-size", "32", "--repeats", "2", "--pretrain-epochs", "1", "--search-epochs", "2",
        "--gamma", "0.3", "--out", str(out)])
    dso_optimizer.main()
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    over = report["overhead"]
    assert over["ratio"] > 0 and over["search_iteration_seconds"] > 0 and over["repeats"] == 2
    prune = report["pruning"]
    assert [e["stage"] for e in prune["epochs"]] == ["pretrain", "search", "search"]
    assert prune["last_over_first"] > 0 and 0 < prune["kept_macs_last_over_complete"] <= 1
    assert prune["pruned_over_complete"] > 0
    assert prune["derived"]["kind"] == "dso"
