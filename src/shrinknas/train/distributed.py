"""Data-parallel training with ``torch.distributed``: the collectives a trainer needs, and a launcher.

The trainer sums gradients itself (one flat all-reduce per step, the step's loss and hit counts riding along)
instead of wrapping the model in ``DistributedDataParallel``: a pruned supernet leaves different parameters
unused as it sparsifies, and its weight and structure steps train disjoint parameter sets, both of which DDP's
bucketed hooks handle only with ``find_unused_parameters`` and its per-step graph walk. Every rank holds the same
factors, hence the same live ops and the same parameters with gradients, which is what makes the flat buffers
line up.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


class Collective:
    """This process's place in the default process group (or a world of one, where every call is a no-op)."""

    def __init__(self) -> None:
        active = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if active else 0
        self.world = dist.get_world_size() if active else 1

    @property
    def parallel(self) -> bool:
        return self.world > 1

    def sum_gradients(self, params: Sequence[torch.Tensor], extra: torch.Tensor) -> torch.Tensor:
        """Sum the gradients of ``params`` (those that have one) over ranks in place, with ``extra`` (returned
        summed); a world of one returns ``extra`` as it is."""
        if not self.parallel:
            return extra
        grads = [p.grad for p in params if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads] + [extra.reshape(-1).to(grads[0].dtype if grads else
                                                                                 extra.dtype)])
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()
        return flat[offset:].view_as(extra).to(extra.dtype)

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.parallel:
            dist.all_reduce(tensor)
        return tensor

    def broadcast_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Overwrite ``tensors`` with rank 0's."""
        if self.parallel:
            for t in tensors:
                if t.is_contiguous():
                    dist.broadcast(t, 0)
                else:  # a channels_last weight: the collectives want dense tensors
                    dense = t.contiguous()
                    dist.broadcast(dense, 0)
                    t.copy_(dense)


def backend_for(device: str) -> str:
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def launch(world_size: int, worker: Callable[..., Any], args: tuple, device: str = "cpu",
           threads: int = 1) -> list[Any]:
    """Run ``worker(*args)`` in ``world_size`` fresh processes joined in one process group (gloo on CPU, NCCL on
    GPU, rank r on ``cuda:r``), called with ``device=`` its device; returns each rank's return value (JSON-able),
    by rank. ``worker`` must be importable (a module-level function); a rank's exception is raised here."""
    with tempfile.TemporaryDirectory(prefix="shrinknas-ddp-") as tmp:
        mp.start_processes(_rank_main, args=(world_size, tmp, worker, args, device, threads), nprocs=world_size,
                           join=True, start_method="spawn")
        results = []
        for rank in range(world_size):
            results.append(json.loads((Path(tmp) / f"rank{rank}.json").read_text()))
    return results


def _rank_main(rank: int, world_size: int, tmp: str, worker: Callable[..., Any], args: tuple, device: str,
               threads: int) -> None:
    torch.set_num_threads(threads)
    on = torch.device(device)
    if on.type == "cuda":
        torch.cuda.set_device(rank)
        device = f"cuda:{rank}"
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group(backend_for(device), init_method=f"file://{Path(tmp) / 'store'}", rank=rank,
                            world_size=world_size)
    try:
        result = worker(*args, device=device)
        (Path(tmp) / f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()
