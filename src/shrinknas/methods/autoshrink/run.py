"""Runs a configured AutoShrink search into a run directory: the one function the CLI calls.

It owns the files (config.yaml, trajectory.jsonl, best_cell.json, summary.json, trials.sqlite); the algorithm
stays in ``autoshrink.py`` and knows nothing of files. A directory that holds an unfinished run with the same
settings is resumed: the loop replays from the seed and its finished trials come back from the store.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...config import ImageTask, TextTask, dump_yaml, identity, load_yaml, validated
from .config import AutoShrinkConfig
from ...errors import ShrinkNASError
from ...run.executors import Executor, SerialExecutor
from ...run.rundir import BEST_CELL, CONFIG, SUMMARY, TRAJECTORY, RunDir
from ...run.runner import IndexCallback, TrialRunner
from ...run.store import RunProgress, RunStore
from ...run.trial import TrialResult, TrialSpec
from .records import record_final, record_step
from .loop import Candidate, CandidateCallback, SearchResult, StepCallback, autoshrink
from .confirm import Confirmed, confirm, final_pick

METHOD = "autoshrink"


def candidate_summary(c: Candidate) -> dict[str, Any]:
    r = c.result
    return {
        "step": c.step,
        "n_edges": len(c.topology.edges),
        "val_acc": r.metric("val_acc"),
        "val_ppl": r.metric("val_ppl"),
        "macs": r.metric("macs"),
        "params": r.metric("params"),
        "S": c.score,
        "cell": c.topology.to_dict(),
    }


def summarize(result: SearchResult, seconds: float, confirmed: list[Confirmed] | None = None) -> dict[str, Any]:
    """``best`` is the final cell: the confirm stage's pick where it ran and a finalist trained, else eq. (7)'s."""
    failed = [c for c in result.candidates if not c.result.ok]
    screening = sum(c.screen is not None for c in result.candidates)
    picked = final_pick(confirmed)
    extra: dict[str, Any] = {}
    if confirmed:
        extra = {"search_best": candidate_summary(result.best), "confirm": {
            "seeds": list(confirmed[0].seeds),
            "finalists": [confirmed_summary(f) for f in confirmed],
            "trial_seconds": round(sum(r.seconds for f in confirmed for r in f.results), 3)}}
    return {
        "best": candidate_summary(picked.candidate if picked else result.best),
        **extra,
        "complete_dag": candidate_summary(result.chosen[0]),
        "steps": len(result.chosen) - 1,
        "trials": len(result.candidates),
        **({"screening_trials": screening} if screening else {}),  # short fine-tunes of screened steps
        "failed_trials": len(failed),
        "retrained_steps": result.retrained_steps,
        "trial_seconds": round(sum(c.seconds for c in result.candidates), 3),  # screening fine-tunes included
        "wall_seconds": round(seconds, 3),
        "stopped_early": result.stopped_early,
    }


def check_task(task: ImageTask | TextTask) -> None:
    """Load the task's data and find its device once here, so either missing is one clear error, not failed trials."""
    from ...train.common import resolve_device

    resolve_device(task.device)
    if isinstance(task, ImageTask):
        from ...data.images import proxy_data

        proxy_data(task)
    else:
        from ...data.text import load_corpus

        load_corpus(task.dataset, task.vocab_size)


THREADS_KEY = "threads_per_trial"  # stored with the settings as part of a run's identity


def stored_identity(config: AutoShrinkConfig, threads_per_trial: int) -> dict[str, Any]:
    """What a resumed run must share with the stored one: everything that decides the shrink loop's trials, and
    the torch thread count (it changes a trial's numbers in the last bits). The confirm stage is left out: it
    runs after the loop and keys its own trials, so a finished run can be confirmed, or confirmed again with
    more cells or seeds, by running it again with other confirm settings."""
    data = identity(config)
    del data["confirm"]
    return {**data, THREADS_KEY: threads_per_trial}


def stored_config(store: RunStore) -> AutoShrinkConfig:
    """The settings a stored AutoShrink run was started with (for scripts that study a finished run)."""
    return AutoShrinkConfig.model_validate({k: v for k, v in store.config().items() if k != THREADS_KEY})


def written_config(run_dir: Path | str) -> AutoShrinkConfig:
    """The settings a run wrote to its config.yaml: where only a run's result files were kept (a published results
    folder), its cells can still be re-trained with the task they were searched on."""
    path = RunDir(run_dir).file(CONFIG)
    return validated(AutoShrinkConfig, load_yaml(path), str(path))


def confirmed_summary(f: Confirmed) -> dict[str, Any]:
    """A finalist: its search numbers, then its from-scratch ones per fresh seed and their mean S."""
    return {**candidate_summary(f.candidate),
            "val_acc_fresh": [r.metric("val_acc") for r in f.results], "val_ppl_fresh": [r.metric("val_ppl") for r in f.results],
            "S_fresh": [s if math.isfinite(s) else None for s in f.scores],
            "S_fresh_mean": f.mean_score if math.isfinite(f.mean_score) else None}


def replay(run_dir: Path | str) -> tuple[AutoShrinkConfig, SearchResult]:
    """A finished run's settings and search result, read back from its store without training anything (for
    scripts that compare runs); a trial the store lacks is an error, since replaying it would mean training it."""
    with RunStore.read(Path(run_dir)) as store:
        config = stored_config(store)

        def from_store(specs: list[TrialSpec], on_result: IndexCallback | None = None) -> list[TrialResult]:
            found = store.get_many(spec.key() for spec in specs)
            missing = [spec for spec in specs if spec.key() not in found]
            if missing:
                raise ShrinkNASError(f"{store.path} lacks {len(missing)} trial(s) of this run: is it finished?")
            return [found[spec.key()] for spec in specs]

        return config, autoshrink(config, from_store)


def run_autoshrink(
    config: AutoShrinkConfig,
    out: Path | str,
    executor: Executor | None = None,
    force_new: bool = False,
    on_open: Callable[[RunProgress], None] | None = None,
    on_step: StepCallback | None = None,
    on_trial_done: CandidateCallback | None = None,
    on_confirm_start: Callable[[int], None] | None = None,
    on_confirm_trial: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Search (or resume), committing every trial to trials.sqlite as it finishes; returns the summary written.

    ``on_open`` is told what the store already held (nothing for a new run). The caller owns ``executor``.
    The confirm stage (``config.confirm``) runs after the loop; its callbacks say how many trainings it starts
    and when each finishes.
    """
    check_task(config.task)
    executor = executor or SerialExecutor()
    run_identity = stored_identity(config, executor.threads_per_trial)
    run = RunDir(out).create()
    if force_new:
        run.remove(SUMMARY, BEST_CELL, TRAJECTORY, CONFIG)  # no result of the old run may outlive it
    with RunStore.open(run.path, METHOD, run_identity, force_new=force_new) as store:
        if on_open is not None:
            on_open(store.progress())
        run.write_text(CONFIG, dump_yaml(config))
        runner = TrialRunner(store, executor)

        def announce(step: int, trainings: int, edges: int, round_name: str) -> None:
            runner.label = f"step 0, the complete DAG ({edges} edges)" if step == 0 else \
                f"step {step}, {round_name} (parent: {edges} edges)"
            if on_step is not None:
                on_step(step, trainings, edges, round_name)

        start = time.perf_counter()
        try:
            with run.trajectory_writer() as trajectory:
                result = autoshrink(
                    config,
                    runner,
                    on_step=announce,
                    on_candidate=lambda c: trajectory.append(c.record()),
                    on_trial_done=on_trial_done,
                    on_kept=lambda c: record_step(store, c.step, c.result.key, c.score),
                )
            runner.label = "confirm stage"
            confirmed = confirm(config, result.chosen, runner, on_confirm_start, on_confirm_trial) \
                if config.confirm.top else None
        except BaseException as exc:
            _leave(store, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        summary = summarize(result, time.perf_counter() - start, confirmed)
        summary["trials_trained"], summary["trials_from_store"] = runner.counts.trained, runner.counts.reused
        summary["machine"] = store.machine()  # where it started: on another kind of CPU a rerun rounds differently
        picked = final_pick(confirmed)
        record_final(store, picked.candidate.result.key if picked else None, picked.mean_score if picked else None,
                     sum(len(f.results) for f in confirmed or ()))
        run.write_json(BEST_CELL, summary["best"]["cell"])
        run.write_json(SUMMARY, summary)
        store.set_state("finished")
    return summary


def _leave(store: RunStore, state: str) -> None:
    """Record why the run stopped, unless the store itself is what failed (a full disk, say)."""
    try:
        store.set_state(state)
    except ShrinkNASError:
        pass
