"""The architectures of the dataset phase (Algorithm 1, TRAIN): drawn at random, then degenerate ones rejected.

``random_architecture`` is the paper's sampler (appendix 9): length ``l ~ U(2, 50)``, every layer's type
``t ~ U(1, 8)`` and fields ``k ~ U(1, 10)``, ``s ~ U(1, 10)``, ``o ~ U(16, 4096)``, ``p ~ U(1, 10)`` (a field
the type lacks is dropped), the last layer the classifier. A draw is rejected when it has no conv, cannot be
built (a spatial size reaching 0, a linear before any conv, a conv after a linear, a pooling padding over half
its kernel) or is too large (``Footprint``). The ranges are settings: a width of 4,096 does not train on two CPU
cores.

``teacher_variant`` departs from the paper: it removes whole blocks of a teacher and narrows its widths, so the
dataset covers the neighbourhood the descent starts in instead of the whole space.
"""

from __future__ import annotations

import logging
import random
from typing import Callable

from pydantic import Field, model_validator

from ...config import StrictModel
from ...errors import BadInputError
from ...genome.layer_seq import FIELDS, TYPES, Layer, LayerSequence

log = logging.getLogger(__name__)


class Footprint(StrictModel):
    """What "too large to be practical" means (appendix 9 gives no numbers; these are ours). None: no limit."""

    max_params: int | None = Field(25_000_000, ge=1, description="parameters (CONV-10 has 24.4M)")
    max_macs: int | None = Field(2_000_000_000, ge=1, description="multiply-accumulates of one input")
    max_activation_elements: int | None = Field(
        20_000_000, ge=1, description="output elements of all layers for one input (memory of a training step)")

    def admits(self, genome: LayerSequence) -> bool:
        limits = ((self.max_params, genome.params()), (self.max_macs, genome.macs()),
                  (self.max_activation_elements, genome.activation_elements()))
        return all(limit is None or value <= limit for limit, value in limits)


Range = tuple[int, int]


class SamplerSpace(StrictModel):
    """The paper's ranges (appendix 9), each drawn uniformly, both ends included."""

    length: Range = (2, 50)
    kernel: Range = (1, 10)
    stride: Range = (1, 10)
    out: Range = (16, 4096)
    padding: Range = (1, 10)
    footprint: Footprint = Footprint()
    max_tries: int = Field(1_000_000, ge=1, description="draws per architecture before giving up")

    @model_validator(mode="after")
    def _ranges(self) -> "SamplerSpace":
        lowest = {"length": 2, "kernel": 1, "stride": 1, "out": 1, "padding": 0}
        for name, low in lowest.items():
            lo, hi = getattr(self, name)
            if not low <= lo <= hi:
                raise ValueError(f"{name} range ({lo}, {hi}) must satisfy {low} <= low <= high")
        return self


class TeacherSpace(StrictModel):
    """Variants of a teacher: each block (a conv or linear and the layers up to the next one) but the classifier
    is removed with ``remove_prob``; each remaining width is multiplied by a log-uniform factor in
    [``min_width_fraction``, 1]."""

    remove_prob: float = Field(0.3, ge=0, lt=1)
    min_width_fraction: float = Field(0.125, gt=0, le=1)
    footprint: Footprint = Footprint()
    max_tries: int = Field(10_000, ge=1)


def random_architecture(rng: random.Random, input: tuple[int, int, int], classes: int,
                        space: SamplerSpace = SamplerSpace()) -> LayerSequence:
    """One architecture of the paper's random sampler, drawn until a draw is not degenerate."""
    for _ in range(space.max_tries):
        genome = _draw(rng, input, classes, space)
        if genome is not None:
            return genome
    raise BadInputError(f"no valid architecture in {space.max_tries} draws; widen the sampler's ranges (smaller "
                        "kernels and strides, or fewer layers, for small inputs)")


def _draw(rng: random.Random, input: tuple[int, int, int], classes: int,
          space: SamplerSpace) -> LayerSequence | None:
    length = rng.randint(*space.length)
    layers = [_random_layer(rng, space) for _ in range(length - 1)] + [Layer.linear(classes)]
    return _admitted(input, classes, layers, space.footprint)


def _random_layer(rng: random.Random, space: SamplerSpace) -> Layer:
    kind = TYPES[rng.randint(1, len(TYPES)) - 1]
    drawn = {"kernel": rng.randint(*space.kernel), "out": rng.randint(*space.out),
             "stride": rng.randint(*space.stride), "padding": rng.randint(*space.padding)}
    return Layer(kind, **{name: drawn[name] for name in FIELDS[kind]})


def _admitted(input: tuple[int, int, int], classes: int, layers: list[Layer],
              footprint: Footprint) -> LayerSequence | None:
    """The network, or None when it is degenerate (cannot be built, has no conv, or is too large)."""
    try:
        genome = LayerSequence(tuple(input), classes, tuple(layers))
    except BadInputError:
        return None
    if not any(layer.type == "conv" for layer in genome.layers) or not footprint.admits(genome):
        return None
    return genome


def teacher_variant(rng: random.Random, teacher: LayerSequence, space: TeacherSpace = TeacherSpace()) -> LayerSequence:
    """The teacher with blocks removed and widths narrowed (a departure from the paper: see the module doc)."""
    blocks = _blocks(teacher.layers)
    for _ in range(space.max_tries):
        kept = [block for block in blocks[:-1] if rng.random() >= space.remove_prob] + [blocks[-1]]
        layers = [_narrowed(rng, layer, space.min_width_fraction) for block in kept for layer in block]
        layers[-1] = teacher.layers[-1]
        genome = _admitted(teacher.input, teacher.classes, layers, space.footprint)
        if genome is not None:
            return genome
    raise BadInputError(f"no valid variant of the teacher in {space.max_tries} draws; lower remove_prob")


def _blocks(layers: tuple[Layer, ...]) -> list[list[Layer]]:
    """Consecutive runs that start at a conv or linear (leading layers before the first join it)."""
    blocks: list[list[Layer]] = []
    for layer in layers:
        if layer.type in ("conv", "linear") and blocks and any(x.type in ("conv", "linear") for x in blocks[-1]):
            blocks.append([layer])
        elif blocks:
            blocks[-1].append(layer)
        else:
            blocks.append([layer])
    return blocks


def _narrowed(rng: random.Random, layer: Layer, min_fraction: float) -> Layer:
    if layer.type not in ("conv", "linear"):
        return layer
    fraction = min_fraction ** rng.random()
    return Layer(layer.type, layer.kernel, max(1, round(layer.out * fraction)), layer.stride, layer.padding)


def sample_architectures(n: int, seed: int, draw: Callable[[random.Random], LayerSequence],
                         max_repeats: int = 1000) -> list[LayerSequence]:
    """``n`` distinct architectures from ``draw`` (e.g. ``partial(random_architecture, input=..., classes=...)``),
    the same list for the same seed."""
    rng = random.Random(seed)
    found: dict[str, LayerSequence] = {}
    repeats = 0
    while len(found) < n:
        genome = draw(rng)
        if genome.key() in found:
            repeats += 1
            if repeats > max_repeats:
                raise BadInputError(f"only {len(found)} distinct architectures after {max_repeats} repeats; ask for "
                                    "fewer or widen the sampler's ranges")
            continue
        found[genome.key()] = genome
    log.info("sampled %d architectures (%d repeats skipped)", n, repeats)
    return list(found.values())


def acceptance_rate(rng: random.Random, input: tuple[int, int, int], classes: int, space: SamplerSpace,
                    draws: int) -> float:
    """The fraction of raw draws the sampler keeps: how many draws one architecture costs."""
    kept = sum(_draw(rng, input, classes, space) is not None for _ in range(draws))
    return kept / max(draws, 1)


__all__ = ["Footprint", "SamplerSpace", "TeacherSpace", "acceptance_rate", "random_architecture",
           "sample_architectures", "teacher_variant"]
