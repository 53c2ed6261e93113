"""The architecture autoencoder of Architecture Compression (section 4, appendix 8) and its losses (eqs. 12-15).

A residual 1-D CNN encodes a (5, T) row sequence into an embedding ``y``; a decoder of the same form with
transposed convolutions maps ``y`` back to (5, T); two fully connected heads read ``y``: the accuracy regressor
(sigmoid output, eq. 10) and the parameter regressor (standardised count, eq. 11).

Where the paper is silent or contradicts itself (its choices; say so in reports):
- the embedding is the encoder's last feature map, flattened (``channels x T / 2**stages`` values): the paper
  only says ``y in R^N``;
- "3 fc-relu blocks" are read as three hidden Linear-ReLU blocks followed by a one-unit Linear and the head's
  output activation;
- the parameter regressor's output is linear, not ReLU: its target is standardised (centred on 0, eq. 11), so
  half of it is negative and a ReLU output could never reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AutoencoderShape:
    """Sizes of the autoencoder; ``seq_len`` must be divisible by ``2 ** stages``."""

    seq_len: int = 64
    fields: int = 5
    channels: int = 64
    stages: int = 3
    blocks: int = 1
    hidden: int = 128
    kernel: int = 3

    def __post_init__(self) -> None:
        if self.seq_len % (2 ** self.stages):
            raise ValueError(f"seq_len {self.seq_len} must be divisible by 2 ** stages = {2 ** self.stages}")
        if self.kernel % 2 == 0:
            raise ValueError("the kernel must be odd (same padding)")

    @property
    def embedding_length(self) -> int:
        return self.seq_len // 2 ** self.stages

    @property
    def embedding_dim(self) -> int:
        return self.channels * self.embedding_length

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ResidualBlock(nn.Module):
    """Appendix 8: ``x' = relu(BN(conv(x))) + x``; with a stride or a change of width the residual goes through
    its own convolution of the same stride (``x' = relu(BN(f_s(x, w1))) + f_s(x, w2)``). ``transposed``: the
    decoder's form, where a stride lengthens the sequence."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, transposed: bool = False) -> None:
        super().__init__()
        if transposed:  # length * stride out: kernel k + s - 1 with padding (k - 1) / 2
            def conv() -> nn.Module:
                return nn.ConvTranspose1d(c_in, c_out, kernel + stride - 1, stride, (kernel - 1) // 2)
        else:
            def conv() -> nn.Module:
                return nn.Conv1d(c_in, c_out, kernel, stride, (kernel - 1) // 2)
        self.conv = conv()
        self.norm = nn.BatchNorm1d(c_out)
        self.shortcut = conv() if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x))) + self.shortcut(x)


def _regressor(dim: int, hidden: int, output: nn.Module) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width_in in (dim, hidden, hidden):
        layers += [nn.Linear(width_in, hidden), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, 1), output)


class AutoencoderOutput(NamedTuple):
    embedding: torch.Tensor  # (N, D)
    reconstruction: torch.Tensor  # (N, 5, T)
    accuracy: torch.Tensor  # (N,) in [0, 1]
    params: torch.Tensor  # (N,) standardised


class ArchAutoencoder(nn.Module):
    """Encoder, decoder and the two regressors; the heads and the decoder take an embedding, so the descent
    can move it."""

    def __init__(self, shape: AutoencoderShape = AutoencoderShape()) -> None:
        super().__init__()
        self.shape = shape
        c, k = shape.channels, shape.kernel
        encoder: list[nn.Module] = [ResidualBlock(shape.fields, c, k)]
        decoder: list[nn.Module] = []
        for _ in range(shape.stages):
            encoder += [ResidualBlock(c, c, k) for _ in range(shape.blocks)] + [ResidualBlock(c, c, k, stride=2)]
            decoder += [ResidualBlock(c, c, k, stride=2, transposed=True)]
            decoder += [ResidualBlock(c, c, k, transposed=True) for _ in range(shape.blocks)]
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder, nn.ConvTranspose1d(c, shape.fields, k, 1, (k - 1) // 2))
        self.accuracy_head = _regressor(shape.embedding_dim, shape.hidden, nn.Sigmoid())
        self.params_head = _regressor(shape.embedding_dim, shape.hidden, nn.Identity())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 5, T) codes -> (N, D) embeddings."""
        return self.encoder(x).flatten(1)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """(N, D) embeddings -> (N, 5, T) continuous codes."""
        return self.decoder(y.view(len(y), self.shape.channels, self.shape.embedding_length))

    def predict(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(accuracy in [0, 1], standardised params), each (N,)."""
        return self.accuracy_head(y).squeeze(1), self.params_head(y).squeeze(1)

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        y = self.encode(x)
        accuracy, params = self.predict(y)
        return AutoencoderOutput(y, self.decode(y), accuracy, params)


def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 12 as the paper's text says (mean squared error), over the masked fields only."""
    return ((reconstruction - target) ** 2 * mask).sum() / mask.sum().clamp_min(1.0)


def accuracy_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 13: L1."""
    return F.l1_loss(predicted, target)


def params_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 14: Huber with delta 1."""
    return F.huber_loss(predicted, target, delta=1.0)


def autoencoder_losses(output: AutoencoderOutput, x: torch.Tensor, mask: torch.Tensor, accuracy: torch.Tensor,
                       params: torch.Tensor, lam1: float, lam2: float) -> dict[str, torch.Tensor]:
    """Eq. 15: ``loss = L_d + lam1 L_a + lam2 L_p``, with its three terms."""
    terms = {"reconstruction": reconstruction_loss(output.reconstruction, x, mask),
             "accuracy": accuracy_loss(output.accuracy, accuracy),
             "params": params_loss(output.params, params)}
    terms["loss"] = terms["reconstruction"] + lam1 * terms["accuracy"] + lam2 * terms["params"]
    return terms
