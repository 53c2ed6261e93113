"""What a network costs: parameters, multiply-accumulates, memory traffic and measured latency.

MACs count convolutions and linear layers only (BN, pooling, activations and concat are free), for one
input, as the paper and the authors' code count them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Counts:
    params: int
    macs: int
    #: bytes read and written by conv/linear layers for one input (weights + activations, fp32)
    memory_bytes: int


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count(model: nn.Module, input_shape: tuple[int, ...]) -> Counts:
    """Params, MACs and memory traffic of ``model`` for one input of ``input_shape`` (C, H, W)."""
    macs = 0
    traffic = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal macs, traffic
        weight = module.weight
        if isinstance(module, nn.Conv2d):
            per_output = weight.shape[1] * weight.shape[2] * weight.shape[3]  # (c_in / groups) * kh * kw
        else:
            per_output = weight.shape[1]
        macs += output.numel() * per_output
        traffic += 4 * (inputs[0].numel() + output.numel() + weight.numel())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return Counts(params=count_params(model), macs=int(macs), memory_bytes=int(traffic))


def measure_latency(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1, repeats: int = 20) -> float:
    """Median seconds of one inference forward pass (after warm-up), on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    x = torch.randn(batch, *input_shape, device=device)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
