"""The search metric of AutoShrink eq. (5): S = Perf - lambda * log10(Res / 1e6).

CNN: Perf = validation accuracy (0..1), Res = MACs or params of the whole network (authors: MACs, lambda 0.1).
RNN: the authors' form ``0.25 * (200 - ppl) - (log10(edges * nhid^2) - 6)``, i.e. Perf = 0.25 * (200 - ppl),
Res = edges * hidden^2 (the cell's recurrent weights up to a constant factor) and lambda = 1.
"""

from __future__ import annotations

import math

from ...config import ImageTask, TextTask
from .config import SearchSettings
from ...run.trial import TrialResult
from ...genome.dag_cell import Topology

DEFAULT_LAMBDA = {"cnn": 0.1, "rnn": 1.0}


def resource(result: TrialResult, topology: Topology, task: ImageTask | TextTask, settings: SearchSettings) -> float:
    """The Res term: the counted MACs/params for CNNs, edges * hidden^2 for RNN cells."""
    if isinstance(task, TextTask):
        return max(len(topology.edges), 1) * task.hidden**2
    value = result.metric("macs") if settings.resource == "macs" else result.metric("params")
    if value is None:
        raise ValueError(f"trial {result.key} has no {settings.resource} count")
    return float(value)


def performance(result: TrialResult, task: ImageTask | TextTask) -> float:
    if isinstance(task, TextTask):
        return 0.25 * (200.0 - float(result.metric("val_ppl")))
    return float(result.metric("val_acc"))


def score(result: TrialResult, topology: Topology, task: ImageTask | TextTask, settings: SearchSettings) -> float:
    """S of a finished trial; a failed trial scores -inf so it is never chosen."""
    if not result.ok:
        return -math.inf
    res = resource(result, topology, task, settings)
    value = performance(result, task) - settings.lam * math.log10(max(res, 1.0) / 1e6)
    return value if math.isfinite(value) else -math.inf
