"""What a network costs: parameters, multiply-accumulates, memory access cost and measured latency.

MACs count convolutions and linear layers only (BN, pooling, activations and concat are free), for one
input, as the paper and the authors' code count them. Memory access cost is ShuffleNet V2's (Ma et al. 2018):
the elements a layer reads and writes, input + output feature maps + weights, for convolutions, linear layers,
pooling and batch norm (the last two have no weights to read). It is a count of elements, not of bytes, and
never to be confused with the MACs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

_WEIGHTED = (nn.Conv2d, nn.Linear)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_NORMS = (nn.BatchNorm2d,)
_COUNTED = _WEIGHTED + _POOLS + _NORMS


@dataclass(frozen=True)
class Counts:
    params: int
    macs: int
    #: elements read and written (input + output feature maps + weights) by conv, linear, pooling and BN layers
    memory_access: int


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _layer_costs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> tuple[int, int]:
    """(MACs, memory access) of one call of a counted layer, from its input and output."""
    traffic = inputs[0].numel() + output.numel()
    if not isinstance(module, _WEIGHTED):
        return 0, traffic
    weight = module.weight
    if isinstance(module, nn.Conv2d):
        per_output = weight.shape[1] * weight.shape[2] * weight.shape[3]  # (c_in / groups) * kh * kw
    else:
        per_output = weight.shape[1]
    return output.numel() * per_output, traffic + weight.numel()


def count(model: nn.Module, input_shape: tuple[int, ...]) -> Counts:
    """Params, MACs and memory access cost of ``model`` for one input of ``input_shape`` (C, H, W)."""
    return count_parts(model, input_shape, {"": model})[""]


def count_parts(model: nn.Module, input_shape: tuple[int, ...], parts: Mapping[str, nn.Module]) -> dict[str, Counts]:
    """The costs of named submodules of ``model`` in one forward pass of one input: what each part's layers
    compute and move (a layer belongs to the first part that holds it), with each part's own parameters.

    The budgets of a supernet read the costs of every op this way; a part the pass never calls costs nothing.
    """
    owner: dict[int, str] = {}
    for name, part in parts.items():
        for m in part.modules():
            if isinstance(m, _COUNTED):
                owner.setdefault(id(m), name)
    totals = {name: [0, 0] for name in parts}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        macs, traffic = _layer_costs(module, inputs, output)
        entry = totals[owner[id(module)]]
        entry[0] += macs
        entry[1] += traffic

    handles = [m.register_forward_hook(hook) for m in model.modules() if id(m) in owner]
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
    return {name: Counts(params=count_params(parts[name]), macs=int(macs), memory_access=int(traffic))
            for name, (macs, traffic) in totals.items()}


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
