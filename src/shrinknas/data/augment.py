"""Training augmentations on batched tensors, for final training (the proxy search uses none)."""

from __future__ import annotations

import torch


def random_crop_flip(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each image by ``pad``, crop it back to size at a random offset, and flip half horizontally.

    Works on a batch (N, C, H, W) in one gather; the outcome depends only on ``x`` and the generator's state.
    On normalised inputs a zero pad is the channel mean.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    n, c, h, w = x.shape
    on = generator.device
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator, device=on)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator, device=on)
    flip = torch.rand((n, 1), generator=generator, device=on) < 0.5
    cols_ahead = torch.arange(w, device=on)
    rows = (dy + torch.arange(h, device=on)).to(x.device)
    cols = (dx + torch.where(flip, cols_ahead.flip(0), cols_ahead)).to(x.device)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]
