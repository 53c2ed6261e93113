"""The confirm stage: the final cell picked by fresh from-scratch trainings of the best kept cells.

The paper takes the best S over the trajectory (eq. 7). That S is one training per cell, and the best of many
noisy numbers is biased upward (the winner's curse: 1-4 points on the Fashion-MNIST proxy, README); under the
inherit protocol it is also a fine-tuned score, which under-rates cells that lost whole nodes. Re-training the
``top`` kept cells from scratch on ``seeds`` fresh seeds and taking the best mean S judges the finalists alike.
Every cell shares the same seeds (common random numbers), so differences between cells are not seed luck.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from .config import AutoShrinkConfig
from ...run.trial import TrialResult, TrialSpec
from .loop import Candidate, EvaluateMany, derive_seed, preference
from .metric import score


@dataclass(frozen=True)
class Confirmed:
    """A kept cell of the search and its from-scratch scores, one per fresh seed (-inf for a failed training)."""

    candidate: Candidate
    seeds: tuple[int, ...]
    results: tuple[TrialResult, ...]
    scores: tuple[float, ...]

    @property
    def mean_score(self) -> float:
        """A cell whose training fails on any seed is never the final cell."""
        return statistics.fmean(self.scores) if all(map(math.isfinite, self.scores)) else -math.inf


def finalists(chosen: list[Candidate], top: int) -> list[Candidate]:
    """The ``top`` kept cells by the search's own preference (best S, then fewer edges), each cell once."""
    ranked = sorted((c for c in chosen if c.ok), key=lambda c: preference(c.score, len(c.topology.edges)),
                    reverse=True)
    distinct: dict[str, Candidate] = {}
    for c in ranked:
        distinct.setdefault(c.topology.key(), c)
    return list(distinct.values())[:top]


def confirm_seeds(config: AutoShrinkConfig) -> list[int]:
    return [derive_seed(config.search.seed, "confirm", r) for r in range(config.confirm.seeds)]


def confirm(
    config: AutoShrinkConfig,
    chosen: list[Candidate],
    evaluate_many: EvaluateMany,
    on_start: Callable[[int], None] | None = None,
    on_trial_done: Callable[[], None] | None = None,
) -> list[Confirmed]:
    """The finalists with their fresh scores, best mean S first (fewer edges on ties). ``on_start`` is told how
    many trainings follow; ``on_trial_done`` fires as each finishes."""
    task = config.task.from_scratch()
    cells = finalists(chosen, config.confirm.top)
    seeds = confirm_seeds(config)
    specs = [TrialSpec(c.topology, task, seed) for c in cells for seed in seeds]
    if on_start is not None:
        on_start(len(specs))
    results = evaluate_many(specs, on_result=None if on_trial_done is None else lambda i, r: on_trial_done())
    confirmed = []
    for i, c in enumerate(cells):
        mine = results[i * len(seeds):(i + 1) * len(seeds)]
        scores = tuple(score(r, c.topology, task, config.search) for r in mine)
        confirmed.append(Confirmed(c, tuple(seeds), tuple(mine), scores))
    return sorted(confirmed, key=lambda f: preference(f.mean_score, len(f.candidate.topology.edges)), reverse=True)


def final_pick(confirmed: list[Confirmed] | None) -> Confirmed | None:
    """The confirm stage's final cell: its best finalist, unless every finalist failed (then eq. (7)'s pick stands)."""
    return confirmed[0] if confirmed and math.isfinite(confirmed[0].mean_score) else None
