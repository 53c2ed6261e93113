"""Runs any registered method into a run directory: the one function the CLI and the Python API call.

It owns what every run directory holds (config.yaml, summary.json, architecture.json, trials.sqlite) and what
every run needs (the data checked up front, the store opened or resumed, the run's state kept); the method's run
function does the searching and returns its summary. A directory that holds an unfinished run with the same
settings is resumed: the method replays from its seed and finished trials come back from the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import dump_yaml
from ..errors import ShrinkNASError
from ..run.events import Event, EventSink, ignore
from ..run.executors import Executor, SerialExecutor
from ..run.rundir import ARCHITECTURE, CONFIG, SUMMARY, RunDir
from ..run.runner import TrialRunner
from ..run.store import RunStore
from .base import Method, get_method

THREADS_KEY = "threads_per_trial"  # stored with the settings as part of a run's identity


@dataclass
class RunContext:
    """What a method's run function works with: its directory, store, trial runner, events and data facts."""

    run: RunDir
    store: RunStore
    runner: TrialRunner
    emit: EventSink
    facts: dict[str, Any]


def stored_identity(method: Method, config: Any, threads_per_trial: int) -> dict[str, Any]:
    """What a resumed run must share with the stored one: the method's settings identity, and the torch thread
    count (it changes a trial's numbers in the last bits)."""
    return {**method.stored_identity(config), THREADS_KEY: threads_per_trial}


def with_absolute_dataset(config: Any) -> Any:
    """The settings with their dataset's path absolute (``folder:data`` -> ``folder:/home/me/data``)."""
    from ..data.facts import absolute_dataset

    task = config.task
    name = absolute_dataset(task.dataset)
    return config if name == task.dataset else config.model_copy(
        update={"task": task.model_copy(update={"dataset": name})})


def check_device(task: Any) -> None:
    from ..train.common import resolve_device

    resolve_device(getattr(task, "device", "cpu"))


def run_method(
    method: Method | str,
    config: Any,
    out: Path | str,
    executor: Executor | None = None,
    force_new: bool = False,
    on_event: EventSink = ignore,
) -> dict[str, Any]:
    """Search (or resume) into ``out``, committing every trial as it finishes; returns the summary written.

    The caller owns ``executor`` (default: trials one after another in this process)."""
    from ..data.facts import task_facts

    method = get_method(method) if isinstance(method, str) else method
    config = with_absolute_dataset(config)
    check_device(config.task)
    if method.prepare is not None:
        config = method.prepare(config, on_event)
    facts = task_facts(config.task)
    executor = executor or SerialExecutor()
    run = RunDir(out).create()
    if force_new:
        run.remove(SUMMARY, ARCHITECTURE, CONFIG, *method.files)  # no result of the old run may outlive it
    with RunStore.open(run.path, method.name, stored_identity(method, config, executor.threads_per_trial),
                       force_new=force_new) as store:
        stored = store.progress()
        if method.headline is not None:
            on_event(Event("note", f"{method.headline(config)} -> {out}"))
        if stored.trials:
            on_event(Event("note", f"resuming: {stored.trials} finished trials in {out} are read back, not trained "
                                   "again" + (f" (of {stored.failed} failed, all but divergences are retried)"
                                              if stored.failed else "")))
        run.write_text(CONFIG, dump_yaml(config))
        runner = TrialRunner(store, executor)
        start = time.perf_counter()
        try:
            summary = method.run(config, RunContext(run, store, runner, on_event, facts))
        except BaseException as exc:
            _leave(store, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        summary = {"method": method.name, **facts, **summary,
                   "wall_seconds": round(time.perf_counter() - start, 3),
                   "trials_trained": runner.counts.trained, "trials_from_store": runner.counts.reused,
                   # where it started: on another kind of CPU a rerun rounds differently
                   "machine": store.machine()}
        run.write_json(ARCHITECTURE, summary["best"]["genome"])
        run.write_json(SUMMARY, summary)
        store.set_state("finished")
    return summary


def _leave(store: RunStore, state: str) -> None:
    """Record why the run stopped, unless the store itself is what failed (a full disk, say)."""
    try:
        store.set_state(state)
    except ShrinkNASError:
        pass
