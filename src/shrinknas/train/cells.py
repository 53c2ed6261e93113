"""Trials of AutoShrink cells on image tasks: a cell's proxy network trained from scratch, or fine-tuned from its
parent's weights (the inherit protocol), with its MACs and params counted."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import torch

from ..config import ImageTraining, identity
from ..genome.dag_cell import edges_cut_off
from ..run.trial import Outcome, TrialContext, TrialSpec, register_evaluator, weights_from_bytes, weights_to_bytes
from .common import seed_everything

if TYPE_CHECKING:
    from ..data.images import TensorSplits
    from ..nets.cnn import CellNetwork
    from ..resources import Counts
    from .classify import FitResult


def prepare_image(spec: TrialSpec, data: TensorSplits) -> tuple[CellNetwork, Counts, ImageTraining]:
    """The candidate network as training starts (seeded init, or its parent's weights), its counts, its schedule."""
    from ..nets.cnn import build_proxy_network
    from ..nets.inherit import inherit
    from ..resources import count

    seed_everything(spec.seed)  # weight init is part of the trial: seed it before building
    model = build_proxy_network(spec.genome, spec.task, data.in_channels, data.n_classes)
    counts = count(model, data.input_shape)
    if spec.parent is not None and spec.resume is None:  # a pause holds the weights it goes on from
        parent = build_proxy_network(spec.parent.genome, spec.task, data.in_channels, data.n_classes)
        parent.load_state_dict(weights_from_bytes(spec.parent.state))
        inherit(model, parent, handover=spec.task.training.leaf_handover)
    return model, counts, image_training(spec)


def image_training(spec: TrialSpec) -> ImageTraining:
    """The schedule an image trial trains on: its task's, or from a parent the fine-tune its removal calls for."""
    training = spec.task.training
    assert isinstance(training, ImageTraining)
    if spec.parent is None:
        return training
    return training.finetuning(edges_cut_off(spec.parent.genome, spec.genome))


def image_outcome(spec: TrialSpec, model: CellNetwork, counts: Counts, fitted: FitResult) -> Outcome:
    """What an image trial reports: val_acc, epochs trained, the candidate's own MACs and params.

    From scratch the score is the best val_acc over epochs (the authors'); a candidate fine-tuned from its parent
    reports the final one, the score of the weights it hands on to the next step.
    """
    val_acc = fitted.final_val_acc if spec.parent is not None else fitted.best_val_acc
    metrics: dict[str, Any] = {"val_acc": val_acc, "epochs": fitted.epochs, "macs": counts.macs,
                               "params": counts.params}
    return Outcome(metrics, weights=weights_to_bytes(model) if spec.keep_weights else None)


@register_evaluator("cnn", "cnn")
def evaluate_image_cell(spec: TrialSpec, context: TrialContext) -> Outcome:
    from ..data.images import proxy_data
    from .classify import fit

    data = proxy_data(spec.task)
    model, counts, training = prepare_image(spec, data)
    resume = pause_from_bytes(spec) if spec.resume is not None else None
    fitted = fit(model, data, training, seed=spec.seed, device=spec.task.device, pause=spec.keep_pause, resume=resume)
    outcome = image_outcome(spec, model, counts, fitted)
    if spec.keep_pause and fitted.paused is not None:
        return Outcome(outcome.metrics, outcome.weights, paused=pause_to_bytes(spec, fitted.paused))
    return outcome


def pause_origin(spec: TrialSpec) -> str:
    """What a fine-tune's pause must share with a spec that resumes it: everything but the step budget."""
    budget_free = {"max_steps": None, "finetune_steps": 0, "finetune_steps_per_cut_edge": 0, "finetune_max_steps": None}
    task = spec.task.model_copy(update={"training": image_training(spec).model_copy(update=budget_free)})
    return json.dumps([spec.genome.key(), identity(task), spec.seed, spec.parent.key if spec.parent else None])


def pause_to_bytes(spec: TrialSpec, paused: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save({"origin": pause_origin(spec), **paused.to_dict()}, buffer)
    return buffer.getvalue()


def pause_from_bytes(spec: TrialSpec) -> Any:
    """The pause a spec resumes; one of another trial would silently change its outcome, so it is refused."""
    from .classify import FitPause

    assert spec.resume is not None
    data = torch.load(io.BytesIO(spec.resume), map_location="cpu", weights_only=True)
    if data.pop("origin", None) != pause_origin(spec):
        raise ValueError("the pause to resume from belongs to another trial")
    return FitPause(**data)
