"""The candidates of one search step trained together as one batched model, with the results of one-by-one
evaluation.

Specs batch when they share the task, the training schedule, the seed and the parent weights, as the K
candidates of an AutoShrink step do (those given a longer fine-tune batch apart): then they see the same
batches in the same order and ``nets.batched`` computes all of them at once.
Each candidate is still built (and counted) as its own network, exactly as ``evaluate`` builds it, and its
trained weights are read back into that network, so a result carries the same numbers and weights up to
float32 rounding. Whether it is faster depends on the device: it saves per-kernel overhead (K kernels become
one), which dominates on accelerators; on a CPU the grouped kernels are slower than K dense ones (measured by
benchmarks/batched_candidates.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..config import ImageTask
from ..errors import BadInputError
from .executors import Executor, evaluate_with, torch_threads
from ..train.cells import image_outcome, image_training, prepare_image
from .trial import TrialResult, TrialSpec, evaluate, failed_result, finished_result

if TYPE_CHECKING:
    from ..nets.cnn import CellNetwork
    from ..resources import Counts
    from ..train.classify import Outcome

log = logging.getLogger(__name__)


def batch_key(spec: TrialSpec) -> str | None:
    """Specs with equal keys can train as one batched model; None: this spec trains alone."""
    if not isinstance(spec.task, ImageTask) or spec.task.training.path_dropout:  # batched cells draw no cuts
        return None
    parent = spec.parent.key if spec.parent is not None else None
    schedule = image_training(spec).model_dump(mode="json")  # a fine-tune's budget can differ by candidate
    return json.dumps([spec.task.model_dump(mode="json"), schedule, spec.seed, parent, spec.genome.ops],
                      sort_keys=True)


def evaluate_batch(specs: Sequence[TrialSpec]) -> list[TrialResult]:
    """Evaluate specs of one batch key together; each result is what ``evaluate(spec)`` gives.

    Anything else (mixed keys, a single spec, text tasks), or a batched run that raises (out of memory, a
    missing device), is evaluated one spec at a time instead.
    """
    keys = {batch_key(s) for s in specs}
    if len(specs) < 2 or len(keys) != 1 or None in keys:
        return [evaluate(s) for s in specs]
    start = time.perf_counter()
    try:
        outcomes, models, counts = _train_together(specs)
    except Exception:
        log.warning("batched training of %d candidates failed; training them one by one", len(specs), exc_info=True)
        return [evaluate(s) for s in specs]
    seconds = (time.perf_counter() - start) / len(specs)  # the batch's time, shared evenly
    results = []
    for spec, outcome, model, counted in zip(specs, outcomes, models, counts):
        key = spec.key()
        if isinstance(outcome, BaseException):
            results.append(failed_result(key, outcome, seconds))
        else:
            results.append(finished_result(key, image_outcome(spec, model, counted, outcome), seconds))
    return results


def _train_together(specs: Sequence[TrialSpec]) -> tuple[list[Outcome], list[CellNetwork], list[Counts]]:
    from ..data.images import proxy_data
    from ..nets.batched import BatchedCellNetwork
    from ..nets.cnn import proxy_macro
    from ..train.classify import fit_candidates

    task = specs[0].task
    data = proxy_data(task)
    prepared = [prepare_image(spec, data) for spec in specs]
    models = [model for model, _, _ in prepared]
    batched = BatchedCellNetwork([s.genome for s in specs], proxy_macro(task), data.in_channels, data.n_classes)
    batched.load(models)
    training = prepared[0][2]  # one batch key: one schedule

    def keep_trained(k: int, _outcome: object) -> None:  # a finished candidate's weights, before training goes on
        batched.extract(k, models[k])

    outcomes = fit_candidates(batched, len(specs), data, training, specs[0].seed, task.device, on_finish=keep_trained)
    return outcomes, models, [counted for _, counted, _ in prepared]


def batch_groups(specs: Sequence[TrialSpec], max_batch: int | None = None) -> list[list[int]]:
    """Indices of ``specs`` grouped by batch key, in chunks of at most ``max_batch`` (memory grows with K)."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(batch_key(spec) or f"alone {i}", []).append(i)
    size = max_batch or len(specs) or 1
    return [members[first : first + size] for members in groups.values() for first in range(0, len(members), size)]


class BatchedExecutor(Executor):
    """Trials in this process, those of one batch key trained together as one batched model.

    Results equal ``SerialExecutor``'s up to float32 rounding, not bit for bit (grouped kernels sum in another
    order, and training amplifies it: see benchmarks/batched_candidates.py), so a run directory should not mix
    the two. What it gains depends on the device: per-kernel overhead is what batching saves.
    """

    def __init__(self, threads_per_trial: int = 1, max_batch: int | None = None) -> None:
        super().__init__(evaluate, retries=0, threads_per_trial=threads_per_trial)  # evaluate_batch never raises
        if max_batch is not None and max_batch < 1:
            raise BadInputError(f"max batch must be 1 or more, got {max_batch}")
        self.max_batch = max_batch

    def map_unordered(self, specs: Sequence[TrialSpec]) -> Iterator[tuple[int, TrialResult]]:
        for group in batch_groups(specs, self.max_batch):
            with torch_threads(self.threads_per_trial):
                results = evaluate_batch([specs[i] for i in group])
            yield from zip(group, results)


#: The search loop's ``evaluate_many`` with batching and nothing stored (tests, benchmarks, scripts).
evaluate_batched = evaluate_with(BatchedExecutor())
