"""Rows ``[t, k, o, s, p]`` as the autoencoder sees them: a (5, T) tensor of normalised fields, and back.

Following the notes (the paper regresses raw integers): every field is scaled into about [0, 1] so that no
field's scale dominates the MSE of eq. 12, the type by its largest code, kernel, stride and padding by their
largest value, widths as ``log2(1 + o) / log2(1 + o_max)`` (a width of 1 and an absent field stay apart).
Sequences are padded at the end with PAD rows (type 0, all fields 0); the mask keeps the loss on every field
of a real row and on the type of a PAD row only, so the model learns where a network ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ...errors import BadInputError
from ...genome.layer_seq import PAD, TYPES, LayerSequence, Row

FIELDS = 5
TYPE, KERNEL, OUT, STRIDE, PADDING = range(FIELDS)


@dataclass(frozen=True)
class SequenceEncoding:
    """Scales of the fields and the sequence length T; values above a maximum still encode (as codes above 1)."""

    max_layers: int = 64
    kernel_max: int = 10
    stride_max: int = 10
    padding_max: int = 10
    width_max: int = 4096

    def __post_init__(self) -> None:
        if min(self.max_layers, self.kernel_max, self.stride_max, self.padding_max, self.width_max) < 1:
            raise ValueError("every scale of a SequenceEncoding must be at least 1")

    @classmethod
    def covering(cls, genomes: Sequence[LayerSequence], multiple: int = 8) -> "SequenceEncoding":
        """Scales that put every field of ``genomes`` in [0, 1]; T rounded up to ``multiple`` (the
        autoencoder halves T once per stage)."""
        rows = [row for g in genomes for row in g.rows()]
        if not rows:
            raise BadInputError("an encoding needs at least one architecture")
        longest = max(len(g.layers) for g in genomes)
        return cls(max_layers=multiple * math.ceil(longest / multiple),
                   kernel_max=max(1, max(r[KERNEL] for r in rows)), stride_max=max(1, max(r[STRIDE] for r in rows)),
                   padding_max=max(1, max(r[PADDING] for r in rows)), width_max=max(1, max(r[OUT] for r in rows)))

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def encode(self, genome: LayerSequence) -> torch.Tensor:
        """(5, T) float32: one column per layer, PAD columns after the last."""
        return self.encode_rows(genome.rows())

    def encode_rows(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        if len(rows) > self.max_layers:
            raise BadInputError(f"a network of {len(rows)} layers is longer than the embedding's {self.max_layers}; "
                                "train the embedding with a larger max_layers")
        x = torch.zeros(FIELDS, self.max_layers)
        for i, (t, k, o, s, p) in enumerate(rows):
            x[:, i] = torch.tensor([t / len(TYPES), k / self.kernel_max, self._width_code(o),
                                    s / self.stride_max, p / self.padding_max])
        return x

    def mask(self, length: int) -> torch.Tensor:
        """(5, T): 1 where the reconstruction loss counts (all of a real row, the type of a PAD row)."""
        m = torch.zeros(FIELDS, self.max_layers)
        m[:, :length] = 1.0
        m[TYPE, length:] = 1.0
        return m

    def batch(self, genomes: Sequence[LayerSequence]) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 5, T) codes and masks."""
        x = torch.stack([self.encode(g) for g in genomes]) if genomes else torch.zeros(0, FIELDS, self.max_layers)
        m = torch.stack([self.mask(len(g.layers)) for g in genomes]) if genomes else torch.zeros_like(x)
        return x, m

    def decode(self, x: torch.Tensor) -> list[Row]:
        """Integer rows from a (5, T) code (a decoder's output), rounded and clipped, up to the first PAD."""
        x = x.detach().to(torch.float64).cpu()
        types = torch.clamp(torch.round(x[TYPE] * len(TYPES)), 0, len(TYPES)).long().tolist()
        rows: list[Row] = []
        for i, t in enumerate(types):
            if t == PAD:
                break
            k, o_code, s, p = (float(v) for v in x[1:, i])
            rows.append((t, _count(k * self.kernel_max), self._width(o_code), _count(s * self.stride_max),
                         _count(p * self.padding_max)))
        return rows

    def _width_code(self, width: int) -> float:
        return math.log2(1 + width) / math.log2(1 + self.width_max)

    def _width(self, code: float) -> int:
        exponent = min(max(code, 0.0), 2.0) * math.log2(1 + self.width_max)  # past twice the scale is noise
        return _count(2.0 ** exponent - 1)


def _count(value: float) -> int:
    return max(0, int(round(value)))
