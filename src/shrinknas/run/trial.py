"""A trial is a pure function of its spec: the same TrialSpec gives the same TrialResult on any machine of the
same kind (CPU model and torch version; ``run.hardware``: another kind rounds differently).

That is what lets a trial run in this process, a worker pool or a Ray cluster, be cached by key and be
re-run after a crash with the same outcome.
"""

from __future__ import annotations

import hashlib
import logging
import json
import math
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ..config import ImageTask, ImageTraining, TextTask, identity
from ..genome.dag_cell import Topology
from ..train.common import Diverged, seed_everything

if TYPE_CHECKING:
    from ..data.images import TensorSplits
    from ..nets.cnn import CellNetwork
    from ..resources import Counts
    from ..train.classify import FitResult

log = logging.getLogger(__name__)

Status = Literal["ok", "failed"]
#: Error prefixes of failures the same spec always reproduces.
DETERMINISTIC_FAILURES = ("diverged:", "non-finite ")


@dataclass(frozen=True)
class ParentWeights:
    """Trained weights a candidate starts from: identified by the trial that produced them."""

    key: str
    topology: Topology
    state: bytes = field(compare=False, repr=False)


@dataclass(frozen=True)
class TrialSpec:
    """What to evaluate: a cell, the task settings, the seed, and optionally the parent weights to start from."""

    topology: Topology
    task: ImageTask | TextTask
    seed: int
    parent: ParentWeights | None = None
    keep_weights: bool = field(default=False, compare=False)
    #: return where the fine-tune's step budget stopped it (``TrialResult.paused``), for a longer one to go on from
    keep_pause: bool = field(default=False, compare=False)
    #: such a pause of this very fine-tune with a smaller budget: the outcome is the same with or without it (so it
    #: is no part of the key), only the steps it holds are not taken again
    resume: bytes | None = field(default=None, compare=False, repr=False)

    def key(self) -> str:
        """Canonical key: equal keys mean equal outcomes, so a key already stored is never retrained."""
        parts = [self.topology.key(), identity(self.task), self.seed]
        if self.parent is not None:  # weights are a function of the trial that made them
            parts.append(self.parent.key)
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data = {"topology": self.topology.to_dict(), "task": self.task.model_dump(mode="json"), "seed": self.seed}
        if self.parent is not None:
            data["parent"] = self.parent.key
        return data


@dataclass(frozen=True)
class TrialResult:
    """What came out of a trial. ``status == "failed"`` results carry the reason and are never chosen."""

    key: str
    status: Status
    val_acc: float | None = None
    val_ppl: float | None = None
    macs: int | None = None
    params: int | None = None
    seconds: float = 0.0
    epochs: int = 0
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    #: trained weights (``torch.save`` bytes) when the spec asked to keep them; not part of the record
    weights: bytes | None = field(default=None, compare=False, repr=False)
    #: where the step budget stopped training (``torch.save`` bytes) when the spec asked for it; never stored
    paused: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

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


def evaluate(spec: TrialSpec) -> TrialResult:
    """Build, train and count one candidate; any failure becomes a failed result with its reason."""
    start = time.perf_counter()
    key = spec.key()
    try:
        if isinstance(spec.task, ImageTask):
            metrics = _evaluate_image(spec)
        else:
            metrics = _evaluate_text(spec)
    except Exception as exc:  # a candidate that cannot be trained is a failed trial, not a failed search
        return failed_result(key, exc, time.perf_counter() - start)
    return finished_result(key, metrics, time.perf_counter() - start)


def failed_result(key: str, exc: BaseException, seconds: float) -> TrialResult:
    """The record of a trial that raised: diverged, or any other error with its type."""
    if isinstance(exc, Diverged):
        return TrialResult(key, "failed", error=f"diverged: {exc}", seconds=seconds)
    log.debug("trial %s failed", key, exc_info=exc)
    return TrialResult(key, "failed", error=f"{type(exc).__name__}: {exc}", seconds=seconds)


def finished_result(key: str, metrics: dict[str, Any], seconds: float) -> TrialResult:
    """The record of a trial that trained: ok, unless its score is not finite."""
    for name in ("val_acc", "val_ppl"):
        value = metrics.get(name)
        if value is not None and not math.isfinite(value):
            return TrialResult(key, "failed", error=f"non-finite {name}", seconds=seconds)
    return TrialResult(key, "ok", seconds=seconds, **metrics)


def prepare_image(spec: TrialSpec, data: TensorSplits) -> tuple[CellNetwork, Counts, ImageTraining]:
    """The candidate network as training starts (seeded init, or its parent's weights), its counts, its schedule."""
    from ..nets.cnn import build_proxy_network
    from ..nets.inherit import inherit
    from ..resources import count

    seed_everything(spec.seed)  # weight init is part of the trial: seed it before building
    model = build_proxy_network(spec.topology, spec.task, data.in_channels, data.n_classes)
    counts = count(model, data.input_shape)
    if spec.parent is not None and spec.resume is None:  # a pause holds the weights it goes on from
        parent = build_proxy_network(spec.parent.topology, spec.task, data.in_channels, data.n_classes)
        parent.load_state_dict(weights_from_bytes(spec.parent.state))
        inherit(model, parent, handover=spec.task.training.leaf_handover)
    return model, counts, image_training(spec)


def image_training(spec: TrialSpec) -> ImageTraining:
    """The schedule an image trial trains on: its task's, or from a parent the fine-tune its removal calls for."""
    training = spec.task.training
    assert isinstance(training, ImageTraining)
    if spec.parent is None:
        return training
    return training.finetuning(edges_cut_off(spec.parent.topology, spec.topology))


def edges_cut_off(parent: Topology, child: Topology) -> int:
    """Further edges a one-edge removal took with it (those of the nodes it left without input)."""
    return max(len(parent.edges) - len(child.edges) - 1, 0)


def image_metrics(spec: TrialSpec, model: CellNetwork, counts: Counts, fitted: FitResult) -> dict[str, Any]:
    """What an image trial reports: val_acc, epochs trained, the candidate's own MACs and params.

    From scratch the score is the best val_acc over epochs (the authors'); a candidate fine-tuned from its parent
    reports the final one, the score of the weights it hands on to the next step.
    """
    val_acc = fitted.final_val_acc if spec.parent is not None else fitted.best_val_acc
    metrics: dict[str, Any] = {
        "val_acc": val_acc, "epochs": fitted.epochs, "macs": counts.macs, "params": counts.params
    }
    if spec.keep_weights:
        metrics["weights"] = weights_to_bytes(model)
    return metrics


def _evaluate_image(spec: TrialSpec) -> dict[str, Any]:
    from ..data.images import proxy_data
    from ..train.classify import fit

    data = proxy_data(spec.task)
    model, counts, training = prepare_image(spec, data)
    resume = pause_from_bytes(spec) if spec.resume is not None else None
    fitted = fit(model, data, training, seed=spec.seed, device=spec.task.device, pause=spec.keep_pause, resume=resume)
    metrics = image_metrics(spec, model, counts, fitted)
    if spec.keep_pause and fitted.paused is not None:
        metrics["paused"] = pause_to_bytes(spec, fitted.paused)
    return metrics


def pause_origin(spec: TrialSpec) -> str:
    """What a fine-tune's pause must share with a spec that resumes it: everything but the step budget."""
    budget_free = {"max_steps": None, "finetune_steps": 0, "finetune_steps_per_cut_edge": 0, "finetune_max_steps": None}
    task = spec.task.model_copy(update={"training": image_training(spec).model_copy(update=budget_free)})
    return json.dumps([spec.topology.key(), identity(task), spec.seed, spec.parent.key if spec.parent else None])


def pause_to_bytes(spec: TrialSpec, paused: Any) -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"origin": pause_origin(spec), **paused.to_dict()}, buffer)
    return buffer.getvalue()


def pause_from_bytes(spec: TrialSpec) -> Any:
    """The pause a spec resumes; one of another trial would silently change its outcome, so it is refused."""
    import io

    import torch

    from ..train.classify import FitPause

    assert spec.resume is not None
    data = torch.load(io.BytesIO(spec.resume), map_location="cpu", weights_only=True)
    if data.pop("origin", None) != pause_origin(spec):
        raise ValueError("the pause to resume from belongs to another trial")
    return FitPause(**data)


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


def _evaluate_text(spec: TrialSpec) -> dict[str, Any]:
    from ..train.language import evaluate_candidate

    return evaluate_candidate(spec.topology, spec.task, spec.seed)
