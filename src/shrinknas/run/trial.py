"""A trial is a pure function of its spec: the same TrialSpec gives the same TrialResult on any machine of the
same kind (CPU model and torch version; ``run.hardware``: another kind rounds differently).

That is what lets a trial run in this process, a worker pool or a Ray cluster, be cached by key and be
re-run after a crash with the same outcome. A spec holds any genome and any task; the evaluator that trains it is
found by the pair (genome kind, task kind) in a registry, so a new method brings its evaluator without this module
knowing it. A long trial (a supernet's many epochs) reports per-epoch values and saves checkpoints through its
``TrialContext``, so a killed one resumes at its last epoch.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ..config import identity
from ..genome import Genome, genome_from_dict
from ..train.common import Diverged

log = logging.getLogger(__name__)

Status = Literal["ok", "failed"]
#: Error prefixes of failures the same spec always reproduces.
DETERMINISTIC_FAILURES = ("diverged:", "non-finite ", "too large:")


@dataclass(frozen=True)
class ParentWeights:
    """Trained weights a candidate starts from: identified by the trial that produced them."""

    key: str
    genome: Genome
    state: bytes = field(compare=False, repr=False)


@dataclass(frozen=True)
class TrialSpec:
    """What to evaluate: a genome, the task settings, the seed, and optionally the parent weights to start from."""

    genome: Genome
    task: Any  # a settings model with a ``task`` field naming its kind (config.tasks)
    seed: int
    parent: ParentWeights | None = None
    keep_weights: bool = field(default=False, compare=False)
    #: return where the fine-tune's step budget stopped it (``TrialResult.paused``), for a longer one to go on from
    keep_pause: bool = field(default=False, compare=False)
    #: such a pause of this very fine-tune with a smaller budget: the outcome is the same with or without it (so it
    #: is no part of the key), only the steps it holds are not taken again
    resume: bytes | None = field(default=None, compare=False, repr=False)
    #: the run store a long trial reports its epochs and checkpoints to (set by the runner; no part of the key)
    log_to: Path | None = field(default=None, compare=False, repr=False)

    def key(self) -> str:
        """Canonical key: equal keys mean equal outcomes, so a key already stored is never retrained."""
        parts = [self.genome.key(), identity(self.task), self.seed]
        if self.parent is not None:  # weights are a function of the trial that made them
            parts.append(self.parent.key)
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()

    @property
    def task_kind(self) -> str:
        return str(self.task.task)

    def to_dict(self) -> dict[str, Any]:
        data = {"genome": self.genome.to_dict(), "task": self.task.model_dump(mode="json"), "seed": self.seed}
        if self.parent is not None:
            data["parent"] = self.parent.key
        return data


Metrics = Mapping[str, Any]


@dataclass(frozen=True)
class TrialResult:
    """What came out of a trial: named measurements (``val_acc``, ``macs``, ``epochs``, ...) and, for trials that
    make more than numbers, JSON ``outputs`` (a derived architecture, say). ``failed`` results carry the reason and
    are never chosen."""

    key: str
    status: Status
    metrics: Metrics = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    #: trained weights (``torch.save`` bytes) when the spec asked to keep them; not part of the record
    weights: bytes | None = field(default=None, compare=False, repr=False)
    #: where the step budget stopped training (``torch.save`` bytes) when the spec asked for it; never stored
    paused: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def metric(self, name: str) -> Any:
        """One measurement, None where the trial has none (a failed trial, or a kind that does not measure it)."""
        return self.metrics.get(name)

    @property
    def retryable(self) -> bool:
        """A failure that may not recur (an import error mid-upgrade, memory, a lost worker): resuming retrains it.

        Divergence is a property of the spec, so training it again would only repeat it.
        """
        return self.status == "failed" and not (self.error or "").startswith(DETERMINISTIC_FAILURES)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["weights"], data["paused"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialResult":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def failed(self, reason: str) -> "TrialResult":
        return replace(self, status="failed", error=reason)


@dataclass(frozen=True)
class Outcome:
    """What an evaluator hands back: the measurements and what the spec asked to keep."""

    metrics: dict[str, Any]
    weights: bytes | None = None
    paused: bytes | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialContext:
    """Where a long trial reports each epoch and keeps its checkpoint: the run store, when it can be reached.

    A trial run where the store is not (a Ray worker on another machine) trains on without either: it is still
    correct, it only cannot resume mid-way."""

    key: str
    store: Path | None = None

    def report(self, step: int, values: Mapping[str, Any]) -> None:
        """Per-epoch values, readable (``runs show``) while the trial runs."""
        if self.store is not None:
            from .store import write_intermediate

            write_intermediate(self.store, self.key, step, values)

    def save_checkpoint(self, step: int, state: bytes) -> None:
        """The state after ``step``: a trial killed later resumes from here."""
        if self.store is not None:
            from .store import write_checkpoint

            write_checkpoint(self.store, self.key, step, state)

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        """The latest checkpoint of this very trial (its key), or None to start from the beginning."""
        if self.store is None:
            return None
        from .store import read_checkpoint

        return read_checkpoint(self.store, self.key)


Evaluator = Callable[[TrialSpec, TrialContext], Outcome]
_EVALUATORS: dict[tuple[str, str], Evaluator] = {}
#: Modules whose import registers the built-in evaluators (a worker process imports them on first use).
BUILTIN_EVALUATORS = ("shrinknas.train.cells", "shrinknas.train.language")


def register_evaluator(genome_kind: str, task_kind: str) -> Callable[[Evaluator], Evaluator]:
    """Decorator: ``fn(spec, context) -> Outcome`` trains specs of this genome kind on this kind of task. The module
    defining it must be importable where trials run (a pool worker or a Ray node)."""

    def add(fn: Evaluator) -> Evaluator:
        _EVALUATORS[(genome_kind, task_kind)] = fn
        return fn

    return add


def evaluator_for(genome_kind: str, task_kind: str) -> Evaluator:
    if (genome_kind, task_kind) not in _EVALUATORS:
        for module in BUILTIN_EVALUATORS:
            importlib.import_module(module)
    try:
        return _EVALUATORS[(genome_kind, task_kind)]
    except KeyError:
        known = ", ".join(f"{g} on {t}" for g, t in sorted(_EVALUATORS))
        raise ValueError(f"no evaluator for {genome_kind} genomes on {task_kind} tasks (known: {known})") from None


def evaluate(spec: TrialSpec) -> TrialResult:
    """Train and count one spec with its kind's evaluator; any failure becomes a failed result with its reason."""
    start = time.perf_counter()
    key = spec.key()
    try:
        evaluator = evaluator_for(spec.genome.kind, spec.task_kind)
        outcome = evaluator(spec, TrialContext(key, spec.log_to))
    except Exception as exc:  # a candidate that cannot be trained is a failed trial, not a failed search
        return failed_result(key, exc, time.perf_counter() - start)
    return finished_result(key, outcome, time.perf_counter() - start)


def failed_result(key: str, exc: BaseException, seconds: float) -> TrialResult:
    """The record of a trial that raised: diverged, or any other error with its type."""
    from ..errors import TooLargeError

    if isinstance(exc, Diverged):
        return TrialResult(key, "failed", error=f"diverged: {exc}", seconds=seconds)
    if isinstance(exc, TooLargeError):
        return TrialResult(key, "failed", error=f"too large: {exc}", seconds=seconds)
    log.debug("trial %s failed", key, exc_info=exc)
    return TrialResult(key, "failed", error=f"{type(exc).__name__}: {exc}", seconds=seconds)


def finished_result(key: str, outcome: Outcome, seconds: float) -> TrialResult:
    """The record of a trial that trained: ok, unless a measurement is not finite."""
    for name, value in outcome.metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            return TrialResult(key, "failed", error=f"non-finite {name}", seconds=seconds)
    return TrialResult(key, "ok", metrics=dict(outcome.metrics), seconds=seconds, outputs=dict(outcome.outputs),
                       weights=outcome.weights, paused=outcome.paused)


def spec_genome(data: Mapping[str, Any]) -> Genome:
    """The genome of a stored spec (``to_dict``'s JSON)."""
    return genome_from_dict(data["genome"])


def weights_to_bytes(model: Any) -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def weights_from_bytes(data: bytes) -> dict[str, Any]:
    """Tensors only: loading never runs code (weights_only=True)."""
    import io

    import torch

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
