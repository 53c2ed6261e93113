"""The L1 weight of each scaling factor under a budget (DSO-NAS section 3.4).

- ``none``: gamma everywhere.
- ``flops`` (eq. 9, adaptive FLOPs): a factor set's gamma is gamma * FLOPs_kept / FLOPs_complete of the blocks
  that read it, recomputed from the live factors before every structure step. FLOPs are the multiply-adds the
  project's resource counter gives the kept ops (and the share of the block's 1x1 they are read by), not the
  authors' unit count. A block that keeps more pays more, which keeps the block after a reduction from hoarding
  the computation, and a nearly empty block is left alone.
- ``mac`` (eq. 10, adaptive MAC): each factor's gamma is gamma * MAC(op) / MAC_max, with MAC the op's memory
  access cost (input + output + weights, in elements) and MAC_max the largest of any op in the network; fixed
  over the search.

Which op a factor belongs to under eq. 10: the op its edge feeds, or, for an edge into the block output, the op it
carries out; a reduction branch's factor, that branch. In the share space a factor's op stands for that op in
every normal block, so its cost is the sum over them (eq. 9 likewise sums the blocks that share a set).
"""

from __future__ import annotations

import torch

from ..errors import BadInputError
from ..genome.dso_block import DsoArch
from ..nets.dso import DsoSupernet, SupernetCosts

BUDGETS: tuple[str, ...] = ("none", "flops", "mac")

Gammas = dict[str, "float | torch.Tensor"]


class Budget:
    """The gamma of every factor set of ``model`` under budget ``kind``; ``gammas(arch)`` before each step."""

    def __init__(self, kind: str, gamma: float, model: DsoSupernet, costs: SupernetCosts) -> None:
        if kind not in BUDGETS:
            raise BadInputError(f"unknown budget {kind!r}; expected one of {list(BUDGETS)}")
        self.kind, self.gamma, self.costs = kind, gamma, costs
        self.keys = list(model.named_scaling_factors())
        self.cells: dict[str, list[int]] = {k: [c for c in range(len(model.cells)) if model.cell_key(c) == k]
                                            for k in self.keys}
        self._fixed = mac_gammas(model, costs, gamma) if kind == "mac" else None

    def gammas(self, arch: DsoArch) -> Gammas:
        """Each factor set's gamma (a number, or one per factor) with the wiring ``arch`` the factors keep now."""
        if self._fixed is not None:
            return self._fixed
        if self.kind == "none":
            return dict.fromkeys(self.keys, self.gamma)
        return flops_gammas(self.costs, self.cells, arch, self.gamma)


def flops_gammas(costs: SupernetCosts, cells: dict[str, list[int]], arch: DsoArch, gamma: float) -> Gammas:
    """Eq. 9: gamma * kept / complete MACs of the cells reading each factor set."""
    out: Gammas = {}
    for key, members in cells.items():
        complete = sum(costs.cells[c].complete_macs for c in members)
        kept = sum(costs.cell_macs(c, arch) for c in members)
        out[key] = gamma * kept / complete if complete else gamma
    return out


def mac_gammas(model: DsoSupernet, costs: SupernetCosts, gamma: float) -> Gammas:
    """Eq. 10: gamma * MAC(op) / MAC_max per factor, as tensors shaped like the factor sets."""
    space = model.space
    per_key: dict[str, list[float]] = {}
    for key in model.named_scaling_factors():
        members = [c for c in range(len(model.cells)) if model.cell_key(c) == key]
        if key.startswith("reduction"):
            (cell,) = members
            per_key[key] = [float(costs.cells[cell].ops[name].memory_access) for name in model.cells[cell].branches]
        else:
            owners = [v if v != space.output else u for u, v in model.edges]
            per_key[key] = [float(sum(costs.cells[c].ops[node].memory_access for c in members)) for node in owners]
    largest = max(max(values) for values in per_key.values())
    return {key: torch.tensor(values, dtype=torch.float32) * (gamma / largest) for key, values in per_key.items()}
