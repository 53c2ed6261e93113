"""``fidelity.py``'s ceiling for a noisy reference: the Kendall tau a ranking that knew every candidate's true S could
reach against the mean of the reference's seeds (from a one-way ANOVA's reliability of that mean)."""

from __future__ import annotations

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "experiments" / "autoshrink"
sys.path.insert(0, str(SCRIPTS))

import fidelity  # noqa: E402  (experiments/autoshrink/ is a folder of scripts, not a package)


def test_reference_ceiling_of_a_noiseless_reference_is_a_perfect_tau() -> None:
    seeds = [[0.1, 0.2, 0.3, 0.4]] * 3
    ceiling = fidelity.reference_ceiling([list(s) for s in seeds])
    assert ceiling["seed_sd"] == 0.0
    assert ceiling["tau_ceiling_vs_mean"] == 1.0


def test_reference_ceiling_of_pure_noise_is_zero() -> None:
    """Seeds that disagree more than the candidates differ: no ranking can be seen to agree with it."""
    seeds = [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]
    assert fidelity.reference_ceiling(seeds)["tau_ceiling_vs_mean"] == 0.0
