"""APG-NAG: the sparse optimizer of the scaling factors (DSO-NAS eqs. 6-8, from SSS, Huang & Wang 2018).

Accelerated proximal gradient rewritten so that it needs the gradient at the current point only (no extra
forward / backward pass at an extrapolated point), followed by the authors' non-negativity clamp, which is
what makes a pruned factor exactly zero and keeps it there. Each step, with learning rate eta, momentum mu,
L1 weight gamma and data-loss gradient g:

1. buf <- mu * buf
2. z <- lambda - eta * g
3. z <- sign(z) * max(|z| - eta * gamma, 0)     (soft threshold: the proximal step of gamma * |lambda|_1)
4. buf <- z - lambda + buf
5. lambda <- z + mu * buf
6. lambda <- max(lambda, 0)                     (only with ``nonnegative=True``)

``gamma`` may be a number or a tensor broadcastable to every parameter of its group, so the budgets can give
each block (eq. 9) or each op (eq. 10) its own weight; change ``group["gamma"]`` between steps. There is no
weight decay: the L1 term is the only regulariser of the factors.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch.optim import Optimizer

Gamma = float | torch.Tensor


class APGNAG(Optimizer):
    """Proximal Nesterov momentum for ``min loss(lambda) + gamma * |lambda|_1`` (optionally lambda >= 0)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float,
        momentum: float = 0.9,
        gamma: Gamma = 1e-3,
        nonnegative: bool = True,
    ) -> None:
        if not lr >= 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        _check_gamma(gamma)
        super().__init__(params, dict(lr=lr, momentum=momentum, gamma=gamma, nonnegative=nonnegative))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, gamma = group["lr"], group["momentum"], group["gamma"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                buf = state["momentum_buffer"]
                threshold = lr * (gamma.to(p.device, p.dtype) if isinstance(gamma, torch.Tensor) else gamma)
                if isinstance(threshold, torch.Tensor):
                    _check_broadcast(threshold, p)
                buf.mul_(mu)  # 1
                z = p - lr * p.grad  # 2
                z = z.sign() * (z.abs() - threshold).clamp_(min=0)  # 3
                buf.add_(z).sub_(p)  # 4
                p.copy_(z.add_(buf, alpha=mu))  # 5
                if group["nonnegative"]:
                    p.clamp_(min=0)  # 6
        return loss


def _check_gamma(gamma: Gamma) -> None:
    if isinstance(gamma, torch.Tensor):
        if not gamma.numel():
            raise ValueError("gamma must not be an empty tensor")
        gamma = float(gamma.min())
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")


def _check_broadcast(gamma: torch.Tensor, p: torch.Tensor) -> None:
    try:
        fits = torch.broadcast_shapes(gamma.shape, p.shape) == p.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"gamma of shape {tuple(gamma.shape)} does not broadcast to a parameter of shape "
                         f"{tuple(p.shape)}")
