"""Runs a configured AutoShrink search into a run directory: the one function the CLI calls.

It owns the files (config.yaml, trajectory.jsonl, best_cell.json, summary.json); the algorithm stays in
``autoshrink.py`` and knows nothing of files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..config import AutoShrinkConfig, ImageTask, TextTask, dump_yaml
from ..run.rundir import BEST_CELL, CONFIG, SUMMARY, RunDir
from .autoshrink import Candidate, CandidateCallback, EvaluateMany, SearchResult, StepCallback, autoshrink


def candidate_summary(c: Candidate) -> dict[str, Any]:
    r = c.result
    return {
        "step": c.step,
        "n_edges": len(c.topology.edges),
        "val_acc": r.val_acc,
        "val_ppl": r.val_ppl,
        "macs": r.macs,
        "params": r.params,
        "S": c.score,
        "cell": c.topology.to_dict(),
    }


def summarize(result: SearchResult, seconds: float) -> dict[str, Any]:
    failed = [c for c in result.candidates if not c.result.ok]
    return {
        "best": candidate_summary(result.best),
        "complete_dag": candidate_summary(result.chosen[0]),
        "steps": len(result.chosen) - 1,
        "trials": len(result.candidates),
        "failed_trials": len(failed),
        "trial_seconds": round(sum(c.result.seconds for c in result.candidates), 3),
        "wall_seconds": round(seconds, 3),
        "stopped_early": result.stopped_early,
    }


def check_task(task: ImageTask | TextTask) -> None:
    """Load the task's data once here, so a missing dataset is one clear error, not K failed trials."""
    if isinstance(task, ImageTask):
        from ..data.images import proxy_data

        proxy_data(task)
    else:
        from ..data.text import load_corpus

        load_corpus(task.dataset, task.vocab_size)


def run_autoshrink(
    config: AutoShrinkConfig,
    out: Path | str,
    evaluate_many: EvaluateMany,
    on_step: StepCallback | None = None,
    on_trial_done: CandidateCallback | None = None,
) -> dict[str, Any]:
    """Search, writing every candidate to trajectory.jsonl as it finishes; returns the summary written."""
    check_task(config.task)
    run = RunDir(out).create()
    run.write_text(CONFIG, dump_yaml(config))
    start = time.perf_counter()
    with run.trajectory_writer() as trajectory:

        result = autoshrink(
            config,
            evaluate_many,
            on_step=on_step,
            on_candidate=lambda c: trajectory.append(c.record()),
            on_trial_done=on_trial_done,
        )
    summary = summarize(result, time.perf_counter() - start)
    run.write_json(BEST_CELL, result.best.topology.to_dict())
    run.write_json(SUMMARY, summary)
    return summary
