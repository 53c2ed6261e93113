"""The candidates of one search step trained together as one batched model: the results of one-by-one
evaluation, in less time.

Specs batch when they share the task, the seed and the parent weights, as the K candidates of an AutoShrink
step do: then they see the same batches in the same order and ``nets.batched`` computes all of them at once.
Each candidate is still built (and counted) as its own network, exactly as ``evaluate`` builds it, and its
trained weights are read back into that network, so a result carries the same numbers and weights.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Callable

from ..config import ImageTask
from .trial import TrialResult, TrialSpec, evaluate, failed_result, finished_result, image_metrics, prepare_image

log = logging.getLogger(__name__)


def batch_key(spec: TrialSpec) -> str | None:
    """Specs with equal keys can train as one batched model; None: this spec trains alone."""
    if not isinstance(spec.task, ImageTask):
        return None
    parent = spec.parent.key if spec.parent is not None else None
    return json.dumps([spec.task.model_dump(mode="json"), spec.seed, parent, spec.topology.ops], sort_keys=True)


def evaluate_batch(specs: list[TrialSpec]) -> list[TrialResult]:
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
            results.append(finished_result(key, image_metrics(spec, model, counted, outcome), seconds))
    return results


def _train_together(specs: list[TrialSpec]) -> tuple[list, list, list]:
    from ..data.images import proxy_data
    from ..nets.batched import BatchedCellNetwork
    from ..nets.cnn import proxy_macro
    from ..train.classify import fit_candidates

    task = specs[0].task
    data = proxy_data(task)
    prepared = [prepare_image(spec, data) for spec in specs]
    models = [model for model, _, _ in prepared]
    batched = BatchedCellNetwork([s.topology for s in specs], proxy_macro(task), data.in_channels, data.n_classes)
    batched.load(models)
    training = prepared[0][2]  # one task and one parent: one schedule

    def keep_trained(k: int, _outcome: object) -> None:  # a finished candidate's weights, before training goes on
        batched.extract(k, models[k])

    outcomes = fit_candidates(batched, len(specs), data, training, specs[0].seed, task.device, on_finish=keep_trained)
    return outcomes, models, [counted for _, counted, _ in prepared]


def evaluate_batched(
    specs: list[TrialSpec],
    on_result: Callable[[int, TrialResult], None] | None = None,
    max_batch: int | None = None,
) -> list[TrialResult]:
    """An executor for the search loop: specs grouped by batch key, each group (in chunks of at most
    ``max_batch``) trained as one batched model; results in the order of ``specs``."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(batch_key(spec) or f"alone {i}", []).append(i)
    results: list[TrialResult | None] = [None] * len(specs)
    for members in groups.values():
        size = max_batch or len(members)
        for first in range(0, len(members), size):
            chunk = members[first : first + size]
            for i, result in zip(chunk, evaluate_batch([specs[i] for i in chunk])):
                results[i] = result
                if on_result is not None:
                    on_result(i, result)
    return results  # type: ignore[return-value]
