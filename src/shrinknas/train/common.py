"""What every trainer shares: seeding, divergence detection, device and thread choice."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
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


_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_allocator_tuned = False


def keep_freed_memory() -> bool:
    """Make glibc keep freed activation buffers for the next step instead of handing them back to the kernel.

    By default every buffer over the mmap threshold (activations here are 1-50 MB) is a fresh mapping, unmapped
    when freed, so each training step page-faults all of its activations in again: 3 M minor faults and 13 % of
    a candidate epoch, measured (``benchmarks/allocator.py``). Served from the heap and never trimmed, the pages
    stay. Once per process; returns whether the allocator took the settings (False off glibc, or with
    ``SHRINKNAS_KEEP_FREED_MEMORY=0`` in the environment). Numbers are unchanged: only where memory comes from.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if os.environ.get("SHRINKNAS_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
    _allocator_tuned = all(mallopt(param, value) == 1 for param, value in settings)
    return _allocator_tuned
