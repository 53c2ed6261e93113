"""COMPRESS (Algorithm 1, eqs. 16-18): move a teacher's embedding toward "accurate and small", decode on the way.

The objective is eq. 17, ``L_c = L_a(a_hat, a0) + lam * L_p(p_hat, p0)`` (eq. 16 when ``a0 = 1`` and ``p0`` is
the standardised 0). The paper writes the update ``y' = y + eta dL_c/dy`` (eq. 18), which would raise L_c, the
opposite of what its text says the objective does; we descend: ``y' = y - eta dL_c/dy``.

Every step's embedding is decoded, discretised and repaired (``genome.layer_seq.repair``); every distinct valid
network with fewer parameters than the teacher is kept. As the notes advise, candidates are ranked by the
regressors applied to their *re-encoded* decode (decode -> encode -> predict), not to the moved embedding, whose
predictions off the data manifold can be optimistic: the rank is L_c of the re-encoded prediction, lowest first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F

from ...errors import BadInputError
from ...genome.layer_seq import LayerSequence, RepairRules, repair
from .embedding import TrainedEmbedding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A compressed network found on the path; ``predicted_*`` come from its re-encoded decode."""

    genome: LayerSequence
    step: int  # the first step that decoded to it
    params: int
    predicted_val_acc: float
    predicted_params: float
    score: float  # L_c of the re-encoded prediction: lower ranks first


@dataclass(frozen=True)
class DescentStep:
    """One point of the path: the objective at the embedding and what it decoded to."""

    step: int
    objective: float
    predicted_val_acc: float
    predicted_params: float
    decoded_key: str | None  # of the repaired decode; None where it could not be repaired
    decoded_params: int | None
    error: str | None = None


@dataclass
class Compression:
    teacher_params: int
    candidates: list[Candidate] = field(default_factory=list)  # ranked, best first
    path: list[DescentStep] = field(default_factory=list)


def compress(embedding: TrainedEmbedding, teacher: LayerSequence, steps: int = 100, lr: float = 0.1,
             lam: float = 1.0, acc_target: float = 1.0, params_target: float | None = None,
             rules: RepairRules = RepairRules()) -> Compression:
    """Take ``steps`` gradient steps of size ``lr`` on the teacher's embedding that lower eq. 17's L_c, with
    ``acc_target`` a0 and ``params_target`` p0 (a count; None: eq. 16's standardised 0)."""
    if steps < 0 or lr <= 0 or lam < 0:
        raise BadInputError("steps must be >= 0, the step size > 0 and lambda >= 0")
    model, encoding = embedding.model, embedding.encoding
    model.eval()
    p0 = 0.0 if params_target is None else embedding.scale.standardise(params_target)
    limit = teacher.params()
    result = Compression(limit)
    found: dict[str, tuple[int, LayerSequence]] = {}
    with torch.no_grad():
        y = model.encode(encoding.encode(teacher)[None])
    for step in range(steps + 1):
        y = y.detach().requires_grad_(True)
        accuracy, params = model.predict(y)
        objective = _objective(accuracy, params, acc_target, p0, lam)
        with torch.no_grad():
            rows = encoding.decode(model.decode(y)[0])
        try:
            genome = repair(rows, teacher.input, teacher.classes, rules)
            if len(genome.layers) > encoding.max_layers:
                raise BadInputError(f"the decode has {len(genome.layers)} layers, more than the embedding's "
                                    f"{encoding.max_layers}")
        except BadInputError as exc:
            genome, error = None, str(exc)
        else:
            error = None
            if genome.params() < limit and genome.key() not in found:
                found[genome.key()] = (step, genome)
        result.path.append(DescentStep(step, objective.item(), accuracy.item(), embedding.scale.count(params.item()),
                                       None if genome is None else genome.key(),
                                       None if genome is None else genome.params(), error))
        if step < steps:
            (grad,) = torch.autograd.grad(objective.sum(), y)
            y = y - lr * grad  # descend on L_c (the paper's eq. 18 writes +)
    result.candidates = rank(embedding, [genome for _, genome in found.values()], acc_target, params_target, lam,
                             first_steps=[step for step, _ in found.values()])
    log.info("descent: %d steps, %d distinct valid networks smaller than the teacher", steps, len(found))
    return result


def rank(embedding: TrainedEmbedding, genomes: Sequence[LayerSequence], acc_target: float = 1.0,
         params_target: float | None = None, lam: float = 1.0,
         first_steps: Sequence[int] | None = None) -> list[Candidate]:
    """``genomes`` ranked by L_c of the regressors on their re-encoded form (lowest first, then fewer params)."""
    if not genomes:
        return []
    model, encoding = embedding.model, embedding.encoding
    model.eval()
    p0 = 0.0 if params_target is None else embedding.scale.standardise(params_target)
    with torch.no_grad():
        x, _ = encoding.batch(genomes)
        accuracy, params = model.predict(model.encode(x))
        scores = _objective(accuracy, params, acc_target, p0, lam)
    steps = list(first_steps) if first_steps is not None else [0] * len(genomes)
    candidates = [Candidate(g, s, g.params(), float(a), embedding.scale.count(float(p)), float(score))
                  for g, s, a, p, score in zip(genomes, steps, accuracy, params, scores)]
    return sorted(candidates, key=lambda c: (c.score, c.params))


def _objective(accuracy: torch.Tensor, params: torch.Tensor, a0: float, p0: float, lam: float) -> torch.Tensor:
    """Eq. 17 per network: L1 to a0 plus lam times Huber (delta 1) to p0."""
    target = torch.full_like(params, p0)
    return (accuracy - a0).abs() + lam * F.huber_loss(params, target, delta=1.0, reduction="none")
