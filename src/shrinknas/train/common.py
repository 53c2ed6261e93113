"""What every trainer shares: seeding, divergence detection, device and thread choice."""

from __future__ import annotations

import math
import random

import numpy as np
import torch


class Diverged(Exception):
    """Training produced a non-finite loss: the trial is failed and recorded, never chosen."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed the global generators and return a private one for data order, so trials never share state."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def check_finite(loss: float, epoch: int) -> None:
    if not math.isfinite(loss):
        raise Diverged(f"loss became {loss} in epoch {epoch}")


def resolve_device(name: str) -> torch.device:
    """A torch device, or a clear error when the asked-for accelerator is absent."""
    from ..errors import BadInputError

    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return device
