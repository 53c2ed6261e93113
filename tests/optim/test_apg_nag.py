"""APG-NAG solves the lasso it is the stochastic form of: against scikit-learn's coordinate descent, and step by
step against the notes' six lines computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso

from shrinknas.optim import APGNAG


def lasso_problem(seed: int = 0, n: int = 60, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    truth = np.where(rng.random(d) < 0.5, 0.0, rng.normal(scale=2.0, size=d))
    y = x @ truth + 0.3 * rng.normal(size=n)
    return torch.from_numpy(x), torch.from_numpy(y)


def solve(x: torch.Tensor, y: torch.Tensor, alpha: float | torch.Tensor, nonnegative: bool, steps: int = 4000,
          momentum: float = 0.9) -> np.ndarray:
    """Full-batch APG-NAG on sklearn's objective 1/(2n) |y - x w|^2 + alpha |w|_1, step 1/L."""
    n = len(y)
    lipschitz = float(torch.linalg.eigvalsh(x.T @ x / n).max())
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    opt = APGNAG([w], lr=1 / lipschitz, momentum=momentum, gamma=alpha, nonnegative=nonnegative)
    for _ in range(steps):
        opt.zero_grad()
        ((y - x @ w).square().sum() / (2 * n)).backward()
        opt.step()
    return w.detach().numpy()


@pytest.mark.parametrize("nonnegative", [True, False])
def test_it_reaches_sklearns_lasso_solution(nonnegative):
    x, y = lasso_problem()
    alpha = 0.15
    reference = Lasso(alpha=alpha, fit_intercept=False, positive=nonnegative, tol=1e-14, max_iter=1_000_000)
    reference.fit(x.numpy(), y.numpy())
    found = solve(x, y, alpha, nonnegative)
    np.testing.assert_allclose(found, reference.coef_, atol=1e-9)
    assert ((found == 0) == (reference.coef_ == 0)).all()  # the zeros are exact, as the derivation needs
    assert (found > 0).any() and (found == 0).any()
    if not nonnegative:
        assert (found < 0).any()  # the plain form is a different problem, not the clamped one


def test_a_per_element_gamma_is_sklearns_lasso_on_rescaled_columns():
    """gamma_i |w_i| = alpha |v_i| with v_i = (gamma_i / alpha) w_i: lasso on x_i * alpha / gamma_i."""
    x, y = lasso_problem(1)
    alpha = 0.1
    gamma = torch.linspace(0.05, 0.3, x.shape[1], dtype=torch.float64)
    scale = (alpha / gamma).numpy()
    reference = Lasso(alpha=alpha, fit_intercept=False, positive=True, tol=1e-14, max_iter=1_000_000)
    reference.fit(x.numpy() * scale, y.numpy())
    np.testing.assert_allclose(solve(x, y, gamma, True, steps=8000), reference.coef_ * scale, atol=1e-9)


def test_the_momentum_buffer_follows_the_six_steps_by_hand():
    lr, mu, gamma = 0.5, 0.9, 0.2
    grads = [[0.4, 1.0], [-0.6, 0.3], [2.0, -0.1], [0.05, -0.2]]
    lam, buf = [1.0, 0.1], [0.0, 0.0]
    clamped = []
    p = torch.tensor(lam, dtype=torch.float64, requires_grad=True)
    opt = APGNAG([p], lr=lr, momentum=mu, gamma=gamma, nonnegative=True)
    for g in grads:
        for i in range(2):
            buf[i] = mu * buf[i]
            z = lam[i] - lr * g[i]
            z = (1 if z > 0 else -1 if z < 0 else 0) * max(abs(z) - lr * gamma, 0.0)
            buf[i] = z - lam[i] + buf[i]
            lam[i] = max(z + mu * buf[i], 0.0)
            clamped.append(z + mu * buf[i] < 0)
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        assert p.detach().tolist() == pytest.approx(lam, abs=1e-15)
        assert opt.state[p]["momentum_buffer"].tolist() == pytest.approx(buf, abs=1e-15)
    assert clamped[1] and lam[1] == 0.0 and buf[1] != 0.0  # clamped to exactly zero; the buffer still remembers


def test_param_groups_keep_their_own_gamma():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = APGNAG([{"params": [a], "gamma": 0.0}, {"params": [b], "gamma": 1.0}], lr=0.1, momentum=0.0)
    for p in (a, b):
        p.grad = torch.zeros(3)
    opt.step()
    assert torch.equal(a, torch.ones(3)) and torch.allclose(b, torch.full((3,), 0.9))
    opt.param_groups[0]["gamma"] = torch.tensor([0.0, 5.0, 20.0])  # per element, changed between steps
    opt.step()
    assert torch.allclose(a, torch.tensor([1.0, 0.5, 0.0]))


def test_a_parameter_without_gradient_is_left_alone_and_bad_settings_are_refused():
    p = torch.ones(2, requires_grad=True)
    opt = APGNAG([p], lr=0.1)
    opt.step()
    assert torch.equal(p, torch.ones(2)) and not opt.state[p]
    for kwargs in ({"lr": -1.0}, {"lr": 0.1, "momentum": 1.0}, {"lr": 0.1, "gamma": -1e-3}):
        with pytest.raises(ValueError):
            APGNAG([p], **kwargs)
    opt.param_groups[0]["gamma"] = torch.ones(3)
    p.grad = torch.zeros(2)
    with pytest.raises(ValueError, match="does not broadcast"):
        opt.step()
