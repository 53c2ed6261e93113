"""AutoShrink (paper Algorithm 1): shrink a complete DAG cell one edge per step, keeping the best of K candidates.

One loop for CNN and RNN cells: the kind of cell and the task settings decide how a candidate is trained
(``run.trial.evaluate``); the loop only samples, scores and keeps. Everything random is drawn from
generators derived from the search seed, so a run can be replayed exactly; a resumed run replays the
trajectory and finds its finished trials in the store instead of training them again.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

from ...config import ImageTask
from .config import AutoShrinkConfig
from ...run.trial import ParentWeights, TrialResult, TrialSpec
from ...genome.dag_cell import Edge, Topology, balanced_ops, edges_cut_off
from .metric import score

log = logging.getLogger(__name__)


class EvaluateMany(Protocol):
    """Evaluates specs (in any order, anywhere) and returns their results in the order of ``specs``."""

    def __call__(
        self, specs: list[TrialSpec], on_result: Callable[[int, TrialResult], None] | None = None
    ) -> list[TrialResult]: ...


@dataclass(frozen=True)
class Candidate:
    """One trained candidate: the cell after removing ``removed_edge`` at ``step`` (step 0: the complete DAG)."""

    step: int
    removed_edge: Edge | None
    topology: Topology
    result: TrialResult
    score: float
    kept: bool = False  # the candidate its step kept: the next step's parent
    from_scratch: bool = True  # trained from scratch (else fine-tuned from its parent's weights)
    #: a screened step (``screen_steps``): the short fine-tune that let it on to the full one, or, when
    #: ``screened_out``, the only one it had (then ``result`` is that short fine-tune and it cannot be kept)
    screen: TrialResult | None = None
    screen_score: float | None = None
    screened_out: bool = False

    @property
    def ok(self) -> bool:
        return self.result.ok and math.isfinite(self.score)

    @property
    def seconds(self) -> float:
        return row_seconds(self.record())

    def record(self) -> dict:
        """One line of trajectory.jsonl."""
        r = self.result
        return {
            "step": self.step,
            "removed_edge": list(self.removed_edge) if self.removed_edge else None,
            "edges": [list(e) for e in self.topology.edges],
            "n_edges": len(self.topology.edges),
            "val_acc": r.metric("val_acc"),
            "val_ppl": r.metric("val_ppl"),
            "macs": r.metric("macs"),
            "params": r.metric("params"),
            "S": self.score if math.isfinite(self.score) else None,
            "seconds": r.seconds,
            "epochs": r.metric("epochs"),
            "status": r.status,
            "error": r.error,
            "key": r.key,
            "kept": self.kept,
            "from_scratch": self.from_scratch,
            **(self._screen_record() if self.screen is not None else {}),
        }

    def _screen_record(self) -> dict:
        """Only screened steps carry these, so the rows of other runs stay as they were."""
        assert self.screen is not None
        score = self.screen_score if self.screen_score is not None and math.isfinite(self.screen_score) else None
        return {"screened_out": self.screened_out, "screen_val_acc": self.screen.metric("val_acc"), "screen_S": score,
                "screen_seconds": self.screen.seconds}


@dataclass
class SearchResult:
    initial: Topology
    candidates: list[Candidate] = field(default_factory=list)
    chosen: list[Candidate] = field(default_factory=list)  # the kept candidate of every step
    stopped_early: str | None = None
    retrained_steps: list[int] = field(default_factory=list)  # steps --scratch-if-drop trained again from scratch

    @property
    def best(self) -> Candidate:
        """Paper eq. (7): the best S over the trajectory (the complete DAG included); fewer edges on ties."""
        pool = [c for c in self.chosen if c.ok]
        if not pool:
            raise RuntimeError("no candidate was trained successfully")
        return max(pool, key=lambda c: (*preference(c.score, len(c.topology.edges)), -c.step))


def row_seconds(row: dict) -> float:
    """Trial seconds a trajectory row stands for: a passer's screening fine-tune too, which its ``seconds`` (the
    full fine-tune's, resumed from the pause) do not include. One rule for live candidates and stored rows."""
    return row["seconds"] + (row.get("screen_seconds") or 0.0) * (not row.get("screened_out", True))


def preference(score: float, n_edges: int) -> tuple[float, int]:
    """Which candidate a step keeps: the best S, then fewer edges (larger is preferred)."""
    return score, -n_edges


def derive_seed(seed: int, *labels: object) -> int:
    """A 31-bit seed for one purpose, stable across Python versions and processes."""
    text = ":".join(str(x) for x in (seed, *labels))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def initial_cell(config: AutoShrinkConfig) -> Topology:
    kind = config.task.task
    ops = balanced_ops(kind, config.search.nodes, random.Random(derive_seed(config.search.seed, "ops")))
    return Topology.complete(kind, ops)


def sample_removals(cell: Topology, k: int, seed: int, step: int) -> list[Edge]:
    """K distinct edges of the current cell, as the authors draw them: shuffle, take the first K."""
    edges = list(cell.edges)
    random.Random(derive_seed(seed, "sample", step)).shuffle(edges)
    return edges[:k]


#: (step, trainings in this round, edges left, round): round is "candidates", "screen" (short fine-tunes of a
#: screened step), "finalists" (the full fine-tunes of those that passed) or "from scratch" (a re-trained step)
StepCallback = Callable[[int, int, int, str], None]
CandidateCallback = Callable[[Candidate], None]


def autoshrink(
    config: AutoShrinkConfig,
    evaluate_many: EvaluateMany,
    on_step: StepCallback | None = None,
    on_candidate: CandidateCallback | None = None,
    on_trial_done: CandidateCallback | None = None,
    on_kept: CandidateCallback | None = None,
) -> SearchResult:
    """Run Algorithm 1 until the cell has ``stop_edges`` edges (0: none left), or no candidate trains.

    ``on_trial_done`` fires as each trial finishes (any order, for progress); ``on_candidate`` fires once a
    step is complete and its keeper is marked, in sampling order (for records that must not depend on the
    executor); ``on_kept`` fires with the candidate each step keeps (step 0: the complete DAG).
    """
    settings, task = config.search, config.task
    cell = initial_cell(config)
    result = SearchResult(initial=cell)
    inheriting = settings.protocol == "inherit"
    parent: ParentWeights | None = None

    def evaluate_step(step: int, pairs: list[tuple[Edge | None, Topology]], scratch: bool = False,
                      round_name: str = "candidates", screening: bool = False,
                      resume: list[bytes | None] | None = None) -> list[Candidate]:
        """One round of trainings, announced through ``on_step`` first (so a step trained again is announced again).

        ``screening``: the short fine-tunes of a screened step, whose weights are never handed on but whose pauses
        are, so the full fine-tunes go on from them (``resume``, one per pair) instead of taking their steps again."""
        if on_step is not None:
            on_step(step, len(pairs), len(cell.edges), "from scratch" if scratch else round_name)
        seed = derive_seed(settings.seed, "trial", step)  # one seed per step: candidates differ only in their cell
        start = None if scratch else parent
        run_task = task.from_scratch() if scratch else config.screening_task() if screening else task
        pausable = screening and isinstance(task, ImageTask) and task.training.finetune_schedule == "constant"
        specs = [TrialSpec(topo, run_task, seed, parent=start, keep_weights=inheriting and not screening,
                           keep_pause=pausable, resume=resume[i] if resume else None)
                 for i, (_, topo) in enumerate(pairs)]
        done: list[Candidate | None] = [None] * len(specs)

        def finished(i: int, r: TrialResult) -> None:
            edge, topo = pairs[i]
            done[i] = Candidate(step, edge, topo, r, score(r, topo, task, settings), from_scratch=start is None)
            if on_trial_done is not None:
                on_trial_done(done[i])

        results = evaluate_many(specs, on_result=finished)
        for i, r in enumerate(results):  # executors that do not call back still fill every slot
            if done[i] is None:
                finished(i, r)
        return [c for c in done if c is not None]

    def record(candidates: list[Candidate], keeper: Candidate | None) -> Candidate | None:
        """Hands the step's candidates on in sampling order, the keeper marked; returns the marked keeper."""
        marked = [replace(c, kept=True) if c is keeper else c for c in candidates]
        result.candidates.extend(marked)
        if on_candidate is not None:
            for c in marked:
                on_candidate(c)
        return next((c for c in marked if c.kept), None)

    def keep(kept: Candidate) -> ParentWeights | None:
        """The kept cell becomes the next step's parent (and its weights the candidates' start, when inheriting)."""
        result.chosen.append(kept)
        if on_kept is not None:
            on_kept(kept)
        return _parent_of(kept) if inheriting else None

    (complete,) = evaluate_step(0, [(None, cell)])
    parent = keep(record([complete], complete))

    step = 0
    while len(cell.edges) > settings.stop_edges:
        step += 1
        removals = sample_removals(cell, settings.candidates, settings.seed, step)
        pairs = [(e, cell.without(e)) for e in removals]
        if parent is not None and settings.screen_steps is not None and len(pairs) > settings.screen_top:
            candidates = screened(evaluate_step(step, pairs, round_name="screen", screening=True), settings.screen_top,
                                  lambda passed, pauses: evaluate_step(step, passed, round_name="finalists",
                                                                       resume=pauses),
                                  passes_anyway=(lambda c: edges_cut_off(cell, c.topology) > 0)
                                  if settings.screen_pass_cuts else None)
        else:
            candidates = evaluate_step(step, pairs)
        if parent is not None and settings.scratch_if_drop is not None:  # a screened-out short fine-tune counts too
            fine_tuned = candidates
            candidates = retrain_collapsed(candidates, result.chosen[-1], settings.scratch_if_drop,
                                           lambda pairs: evaluate_step(step, pairs, scratch=True))
            if candidates is not fine_tuned:
                result.retrained_steps.append(step)
        usable = [c for c in candidates if c.ok and not c.screened_out]
        kept = record(candidates, max(usable, key=lambda c: preference(c.score, len(c.topology.edges)), default=None))
        if kept is None:
            result.stopped_early = f"every candidate of step {step} failed"
            log.warning(result.stopped_early)
            break
        parent = keep(kept)
        cell = kept.topology
        log.info("step %d: removed %s, %d edges left, S=%.4f", step, kept.removed_edge, len(cell.edges), kept.score)
    return result


def screened(short: list[Candidate], top: int,
             fine_tune: Callable[[list[tuple[Edge | None, Topology]], list[bytes | None]], list[Candidate]],
             passes_anyway: Callable[[Candidate], bool] | None = None) -> list[Candidate]:
    """One rung of successive halving: the ``top`` best short fine-tunes by S go on to the full fine-tune, which
    alone ranks them; the others keep their short one, marked ``screened_out``. Sampling order is kept.
    ``passes_anyway``: candidates that go on whatever their short S (besides the ``top`` best).

    The full fine-tune is the very trial an unscreened search trains (same key, so a store shares it): it goes on
    from where the short one paused, which gives the same outcome as starting over from the parent (a resumed
    run whose short fine-tunes come back from the store, without their pauses, does start over)."""
    usable = [i for i, c in enumerate(short) if c.ok]
    # stable sort: on a tie (same S and edges) the earlier sampled candidate passes
    best_first = sorted(usable, key=lambda i: preference(short[i].score, len(short[i].topology.edges)), reverse=True)
    exempt = [i for i in usable if passes_anyway(short[i])] if passes_anyway is not None else []
    passing = sorted(set(best_first[:top]) | set(exempt))  # trained and recorded in sampling order
    full = dict(zip(passing, fine_tune([(short[i].removed_edge, short[i].topology) for i in passing],
                                       [short[i].result.paused for i in passing])))
    screens = [replace(c.result, paused=None) for c in short]  # a pause is used once, then let go
    return [replace(full[i], screen=screens[i], screen_score=c.score) if i in full else
            replace(c, result=screens[i], screen=screens[i], screen_score=c.score, screened_out=True)
            for i, c in enumerate(short)]


def retrain_collapsed(candidates: list[Candidate], parent: Candidate, drop: float,
                      from_scratch: Callable[[list[tuple[Edge | None, Topology]]], list[Candidate]]) -> list[Candidate]:
    """A step whose every fine-tuned candidate fell more than ``drop`` below its parent's val_acc, trained again
    from scratch; any other step as it was (the same list, so the caller can tell).

    Removing an edge that changes the cell's leaves can leave inherited weights worse than random ones (the last
    step of every fast N=5 run: 24 fine-tune steps gave 0.11-0.28 where the same cells reach 0.70-0.85 from
    scratch), and when that is true of every candidate the step ranks failed starts, not cells. The whole step is
    re-trained, so its candidates are never ranked across the two protocols."""
    floor = (parent.result.metric("val_acc") or 0.0) - drop
    usable = [c for c in candidates if c.ok and c.result.metric("val_acc") is not None]
    if not usable or any(c.result.metric("val_acc") >= floor for c in usable):
        return candidates
    return from_scratch([(c.removed_edge, c.topology) for c in candidates])


def _parent_of(kept: Candidate) -> ParentWeights | None:
    """The kept candidate's trained weights, for the next step's candidates to start from."""
    if kept.result.weights is None:
        if kept.ok:
            raise RuntimeError(f"trial {kept.result.key} returned no weights; the inherit protocol needs them")
        return None
    return ParentWeights(kept.result.key, kept.topology, kept.result.weights)
