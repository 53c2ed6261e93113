"""Store + executor: the one call a strategy uses to evaluate a batch of candidates.

Resume is deterministic replay: a strategy replays its trajectory from the seed and asks for each step's specs
again; those already in the store come straight back from SQLite, only the rest are trained, and each new result
is committed as soon as it finishes, so a crash in the middle of a step loses no finished trial.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

from .executors import Executor
from .store import RunStore
from .trial import TrialResult, TrialSpec

log = logging.getLogger(__name__)

#: Told about every result of a batch: the spec, its result and whether it came from the store.
ResultCallback = Callable[[TrialSpec, TrialResult, bool], None]


@dataclass
class RunnerCounts:
    """What the runner did so far: trials trained now versus read back from the store."""

    trained: int = 0
    reused: int = 0


class TrialRunner:
    """Evaluates specs through an executor, never training a key the store already holds."""

    def __init__(self, store: RunStore, executor: Executor, on_result: ResultCallback | None = None) -> None:
        self.store = store
        self.executor = executor
        self.on_result = on_result
        self.counts = RunnerCounts()

    def run(self, specs: Sequence[TrialSpec]) -> list[TrialResult]:
        """Results in the order of ``specs``; stored keys are read back, the others trained and committed."""
        keys = [spec.key() for spec in specs]
        results: dict[str, TrialResult] = self.store.get_many(keys)
        for spec in _first_of_each_key(specs, keys, wanted=set(results)):
            self.counts.reused += 1
            self._tell(spec, results[spec.key()], cached=True)
        todo = _first_of_each_key(specs, keys, wanted=set(keys) - set(results))
        if todo:
            log.info("training %d of %d trials (%d read back from the store)", len(todo), len(specs), len(specs) - len(todo))
        with closing(self.executor.map_unordered(todo)) as finished:
            for index, result in finished:
                spec = todo[index]
                self.store.put(spec, result)  # committed before anything else can go wrong
                results[spec.key()] = result
                self.counts.trained += 1
                self._tell(spec, result, cached=False)
        return [results[key] for key in keys]

    def _tell(self, spec: TrialSpec, result: TrialResult, cached: bool) -> None:
        if self.on_result is not None:
            self.on_result(spec, result, cached)


def _first_of_each_key(specs: Sequence[TrialSpec], keys: Sequence[str], wanted: set[str]) -> list[TrialSpec]:
    """One spec per wanted key, in batch order: a batch naming a candidate twice trains it once."""
    seen: set[str] = set()
    chosen = []
    for spec, key in zip(specs, keys):
        if key in wanted and key not in seen:
            seen.add(key)
            chosen.append(spec)
    return chosen
