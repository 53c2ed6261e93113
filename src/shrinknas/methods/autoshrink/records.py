"""AutoShrink's own bookkeeping in the run store: the trial each step kept, and the confirm stage's pick.

The store knows trials, not steps; these rows are what ``runs ls/show`` read to say how far a search got and which
cell it settled on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ...run.store import RunStore

STEP, FINAL = "step", "final"


@dataclass(frozen=True)
class SearchProgress:
    """How far a search got: steps kept, the best S among them, and the confirm stage's pick where it ran."""

    steps_done: int
    best_score: float | None
    best_key: str | None
    final_key: str | None = None  # the confirm stage's pick, where it ran (else the final cell is best_key's)
    final_score: float | None = None  # its mean S over the fresh seeds
    confirm_trainings: int = 0  # trainings the confirm stage ran

    @property
    def final_cell_key(self) -> str | None:
        return self.final_key if self.confirm_trainings else self.best_key

    @property
    def final_cell_score(self) -> float | None:
        """The score of the final cell: its mean fresh S where the confirm stage ran, else its search S."""
        return self.final_score if self.confirm_trainings else self.best_score


def _finite(score: float | None) -> float | None:
    return score if score is not None and math.isfinite(score) else None


def record_step(store: RunStore, step: int, key: str, score: float | None) -> None:
    """Remember which trial the search kept at ``step`` and its score; replaying a step rewrites it.

    The weights of the kept trial's siblings (trials from the same parent with the same step's seed) that no
    step kept are dropped here: only kept trials are parents of later ones. A later step's finished trials keep
    theirs, since a resumed run, replaying its steps, may still keep one of them; that holds for steps trained
    from scratch too (no parent), which differ from step 0 by their seed.
    """
    store.put_record(STEP, step, {"key": key, "score": _finite(score)})
    kept = {value["key"] for _, value, _ in store.records(STEP)}
    store.drop_weights(k for k in store.family(key) if k not in kept)


def record_final(store: RunStore, key: str | None, score: float | None = None, trainings: int = 0) -> None:
    """The confirm stage's pick (``None`` if every finalist failed), its mean fresh S and how many trainings it
    ran. No trainings: the stage did not run (a rerun without it forgets an earlier one)."""
    store.put_record(FINAL, 0, {"key": key, "score": _finite(score), "trainings": trainings} if trainings else None)


def steps(store: RunStore) -> list[dict[str, Any]]:
    """Every kept step with its trial's spec and metrics: ``step``, ``score``, ``genome`` (a dict), ``val_acc``, ..."""
    kept = store.records(STEP)
    rows = {row["key"]: row for row in store.trial_rows(value["key"] for _, value, _ in kept)}
    found = []
    for step, value, _ in kept:
        row = dict(rows[value["key"]])
        row.update(step=step, score=value["score"], genome=json.loads(row["genome"]), task=json.loads(row["task"]))
        found.append(row)
    return found


def search_progress(store: RunStore) -> SearchProgress:
    kept = store.records(STEP)
    scored = [(value["score"], -step, value["key"]) for step, value, _ in kept if value["score"] is not None]
    best = max(scored, default=None)
    final = next((value for _, value, _ in store.records(FINAL) if value), None) or {}
    return SearchProgress(
        steps_done=max((step for step, _, _ in kept), default=0),
        best_score=None if best is None else best[0],
        best_key=None if best is None else best[2],
        final_key=final.get("key"),
        final_score=final.get("score"),
        confirm_trainings=int(final.get("trainings", 0)),
    )
