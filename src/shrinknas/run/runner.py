"""Store + executor: the one call a strategy uses to evaluate a batch of candidates.

Resume is deterministic replay: a strategy replays its trajectory from the seed and asks for each step's specs
again; those already in the store come straight back from SQLite, only the rest are trained, and each new result
is committed as soon as it finishes, so a crash in the middle of a step loses no finished trial.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, replace

from .executors import Executor
from .store import RunStore
from .trial import TrialResult, TrialSpec

log = logging.getLogger(__name__)

#: Told ``(index into specs, result)`` once for every spec of a batch, as its result becomes known.
IndexCallback = Callable[[int, TrialResult], None]


@dataclass
class RunnerCounts:
    """What the runner did so far: trials trained now versus read back from the store."""

    trained: int = 0
    reused: int = 0


class TrialRunner:
    """Evaluates specs through an executor, never training a key the store already holds."""

    def __init__(self, store: RunStore, executor: Executor) -> None:
        self.store = store
        self.executor = executor
        self.counts = RunnerCounts()
        self.label = "trainings"  # what the next batch is, for the store's progress (a strategy's step, say)

    def run(self, specs: Sequence[TrialSpec], on_result: IndexCallback | None = None) -> list[TrialResult]:
        """Results in the order of ``specs``; stored keys are read back, the others (and stored failures that may
        not recur) trained and committed."""
        keys = [spec.key() for spec in specs]
        where: dict[str, list[int]] = defaultdict(list)  # a batch naming a candidate twice trains it once
        for index, key in enumerate(keys):
            where[key].append(index)
        results = {key: r for key, r in self.store.get_many(where).items() if not r.retryable}
        self.counts.reused += len(results)
        for key, result in results.items():
            self._tell(where[key], result, on_result)
        # a long trial reports its epochs and checkpoints to the store (no part of its key)
        todo = [replace(specs[indices[0]], log_to=self.store.path) for key, indices in where.items() if key not in results]
        if todo:
            log.info("training %d trials, %d read back from the store", len(todo), len(where) - len(todo))
            self.store.record_round(self.label, list(where))
        with closing(self.executor.map_unordered(todo)) as finished:
            for index, result in finished:
                key = todo[index].key()
                self.store.put(todo[index], result)  # committed before anything else can go wrong
                results[key] = result
                self.counts.trained += 1
                self._tell(where[key], result, on_result)
        return [results[key] for key in keys]

    __call__ = run  # a runner is what a strategy's ``evaluate_many`` expects

    @staticmethod
    def _tell(indices: list[int], result: TrialResult, on_result: IndexCallback | None) -> None:
        if on_result is not None:
            for index in indices:
                on_result(index, result)
