"""``batched_candidates.py`` (benchmarks/) times one step's candidates trained one by one against the same candidates
trained as one batched model, in one run: on a tiny step it must train both ways, to the same accuracies up to
float32 rounding, and report how the two compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(SCRIPTS))

import batched_candidates  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def test_a_tiny_step_is_timed_both_ways_and_trains_alike(tmp_path, monkeypatch):
    out = tmp_path / "batched.json"
    monkeypatch.setattr(sys, "argv", [
        "batched_candidates.py", "--dataset", "digits", "--nodes", "3", "--candidates", "2", "--epochs", "1",
        "--threads", "1", "--proxy-train", "200", "--proxy-val", "50", "--batch-size", "50", "--out", str(out)])
    batched_candidates.main()
    report = json.loads(out.read_text())
    assert (report["candidates"], report["proxy_train"]) == (2, 200)
    seconds = report["seconds"]
    assert set(seconds) == {"threads=1 separate", "threads=1 batched"} and all(s > 0 for s in seconds.values())
    assert report["speedup_batched_vs_separate"]["threads=1"] > 0
    # the batched model trains each candidate as it trains alone: equal up to rounding, here at most one
    # validation image in 50 apart
    assert report["max_abs_val_acc_difference"]["threads=1 separate vs batched"] <= 0.02
    assert report["candidate_macs_total"] > 0 and report["batched_executed_macs"] > 0
