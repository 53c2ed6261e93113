"""What a network costs: parameters, multiply-accumulates, memory access cost and measured latency.

MACs count convolutions and linear layers only (BN, pooling, activations and concat are free), for one
input, as the paper and the authors' code count them. Memory access cost is ShuffleNet V2's (Ma et al. 2018):
the elements a layer reads and writes, input + output feature maps + weights, for convolutions, linear layers,
pooling and batch norm (the last two have no weights to read). It is a count of elements, not of bytes, and
never to be confused with the MACs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from .errors import BadInputError

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


RUNTIMES = ("torch", "onnxruntime")


@dataclass(frozen=True)
class Latency:
    """Timed inference passes of one runtime at one batch size."""

    runtime: str
    batch: int
    median_seconds: float
    #: interquartile range of the timed passes: how much the machine's load moved them
    spread_seconds: float
    passes: int
    threads: int


def measure_latency(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1, repeats: int = 20) -> float:
    """Median seconds of one inference forward pass in torch (after warm-up), on the model's device."""
    (latency,) = measure_latencies(model, input_shape, batch_sizes=(batch,), runtimes=("torch",), repeats=repeats)
    return latency.median_seconds


def measure_latencies(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_sizes: Sequence[int] = (1,),
    runtimes: Sequence[str] = RUNTIMES,
    warmup: int = 3,
    repeats: int = 20,
    inputs: Callable[[int], tuple[torch.Tensor, ...]] | None = None,
) -> list[Latency]:
    """Measured seconds of an inference pass for each batch size and runtime, never estimated.

    Each runtime first runs ``warmup`` untimed passes, then the runtimes take turns, one timed pass each, so a
    change in the machine's load falls on all of them alike. ``onnxruntime`` runs a temporary ONNX export on as
    many threads as torch uses. ``inputs(batch)`` makes a network's inputs where one random float tensor of
    ``input_shape`` per example is not what it takes (a language model's tokens and hidden state). ``model``
    takes tensors and returns tensors (for a registered network kind: ``network_kind(name).traceable(model)``).

    >>> [(l.runtime, l.batch, l.median_seconds) for l in measure_latencies(net, (3, 32, 32), (1, 32))]  # doctest: +SKIP
    [('torch', 1, 0.0012), ('onnxruntime', 1, 0.0007), ('torch', 32, 0.021), ('onnxruntime', 32, 0.012)]
    """
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown or not runtimes:
        raise BadInputError(f"unknown runtime {unknown[0] if unknown else None!r}; expected some of {list(RUNTIMES)}")
    if min(batch_sizes, default=0) < 1 or repeats < 1 or warmup < 0:
        raise BadInputError("latency needs batch sizes of at least 1, at least one timed pass and no negative warm-up")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    make_inputs = inputs or (lambda batch: (torch.randn(batch, *input_shape, device=device),))
    was_training = model.training
    model.eval()
    results: list[Latency] = []
    try:
        with tempfile.TemporaryDirectory(prefix="shrinknas-latency-") as folder:
            session = _onnx_session(model, make_inputs(2), Path(folder)) if "onnxruntime" in runtimes else None
            for batch in batch_sizes:
                example = make_inputs(batch)
                passes = {r: _inference_pass(r, model, session, example) for r in runtimes}
                times = _interleaved(passes, warmup, repeats)
                results += [_summary(r, batch, times[r]) for r in runtimes]
    finally:
        model.train(was_training)
    return results


def _onnx_session(model: nn.Module, example: tuple[torch.Tensor, ...], folder: Path) -> Any:
    """An onnxruntime session of ``model`` (one export, its batch axis dynamic, serves every batch size)."""
    from .export import onnx_session, to_onnx

    return onnx_session(to_onnx(model, example, folder / "model.onnx"))


def _inference_pass(
    runtime: str, model: nn.Module, session: Any, inputs: tuple[torch.Tensor, ...]
) -> Callable[[], object]:
    """One inference pass of ``model`` on ``inputs`` in ``runtime``, everything but the pass itself set up."""
    if runtime == "onnxruntime":
        feed = {i.name: x.detach().cpu().numpy() for i, x in zip(session.get_inputs(), inputs)}
        return lambda: session.run(None, feed)
    sync = torch.cuda.synchronize if inputs[0].device.type == "cuda" else (lambda: None)

    def torch_pass() -> object:
        with torch.inference_mode():
            out = model(*inputs)
        sync()
        return out

    return torch_pass


def _interleaved(passes: dict[str, Callable[[], object]], warmup: int, repeats: int) -> dict[str, list[float]]:
    for run in passes.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {r: [] for r in passes}
    for _ in range(repeats):
        for runtime, run in passes.items():
            start = time.perf_counter()
            run()
            times[runtime].append(time.perf_counter() - start)
    return times


def _summary(runtime: str, batch: int, times: list[float]) -> Latency:
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (times[0],) * 3
    return Latency(runtime, batch, statistics.median(times), q3 - q1, len(times), torch.get_num_threads())
