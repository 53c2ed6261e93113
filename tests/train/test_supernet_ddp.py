"""The supernet trained data-parallel over two CPU processes (gloo): each rank on its slice of every batch, and
every rank ends with the same factors, hence the same derived architecture."""

from __future__ import annotations

import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.genome import genome_from_dict
from shrinknas.train.supernet import SupernetJob, SupernetSettings, search_data_parallel

from dso_fixtures import digits, tiny_space


@pytest.mark.slow  # two fresh processes import torch: most of its 20 seconds
def test_two_ranks_derive_the_same_architecture():
    x, y = digits(240)
    job = SupernetJob(tiny_space("full"), SupernetSettings(batch_size=32, gamma=0.2), pretrain_epochs=1,
                      search_epochs=3, seed=0)
    first, second = search_data_parallel(job, x, y, world_size=2)
    assert (first["rank"], second["rank"]) == (0, 1)
    assert first["lambdas"] == second["lambdas"] and first["arch"] == second["arch"]
    arch = genome_from_dict(first["arch"])
    assert sum(arch.kept_edges) < sum(len(arch.space.complete_edges()) for _ in arch.blocks)  # it did prune
    drop_seconds = [[{k: v for k, v in e.items() if k != "seconds"} for e in r["history"]] for r in (first, second)]
    assert drop_seconds[0] == drop_seconds[1]  # losses and accuracies are of the whole batch, summed over ranks
    per_epoch = first["history"][0]["samples"]
    assert first["rank_samples_per_epoch"] + second["rank_samples_per_epoch"] == per_epoch
    assert 0 < first["rank_samples_per_epoch"] < per_epoch


def test_a_world_of_none_is_refused():
    with pytest.raises(BadInputError, match="at least 1 process"):
        search_data_parallel(SupernetJob(tiny_space(), SupernetSettings(), 0, 0, 0), torch.zeros(2, 1, 8, 8),
                             torch.zeros(2, dtype=torch.long), world_size=0)
