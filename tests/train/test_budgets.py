"""The budgets' L1 weights: eq. 9 from the MACs of the kept ops, eq. 10 from each op's memory access cost."""

from __future__ import annotations

import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.genome.dso_block import DsoSpace
from shrinknas.nets.dso import DsoSupernet
from shrinknas.train.budgets import Budget

SHAPE = (1, 8, 8)
GAMMA = 0.01


def supernet(space: str) -> DsoSupernet:
    torch.manual_seed(0)
    return DsoSupernet(DsoSpace(stages=2, blocks=1, levels=2, ops=("sepconv3x3", "maxpool3x3"), width=4,
                                space=space), 1, 10)


def test_adaptive_flops_weighs_each_set_by_the_share_of_macs_its_blocks_keep():
    net = supernet("full")
    budget = Budget("flops", GAMMA, net, net.op_costs(SHAPE))
    assert budget.gammas(net.derive()) == pytest.approx(dict.fromkeys(["block0", "block1", "reduction0"], GAMMA))
    with torch.no_grad():
        net.lambdas["block0"].zero_()  # block 0 empty: no penalty left for it
        p = net.lambdas["block1"]
        p.zero_()
        p[net.edges.index((0, 1))] = p[net.edges.index((1, 5))] = 1.0  # one sepconv3x3 kept in block 1
        net.lambdas["reduction0"][1] = 0.0  # the 1x1 branch alone
    arch = net.derive()
    gammas = budget.gammas(arch)
    assert gammas["block0"] == 0.0
    # block 1 works on 8 channels of 4 x 4: a sepconv3x3 is 9*8*16 + 8*8*16 MACs, the 1x1 16*8*8 per op it reads
    sepconv, per_column = 9 * 8 * 16 + 8 * 8 * 16, 16 * 8 * 8
    kept_block, complete_block = sepconv + per_column, 2 * sepconv + 4 * per_column
    assert gammas["block1"] == pytest.approx(GAMMA * kept_block / complete_block)
    assert 0 < gammas["block1"] < GAMMA
    assert gammas["reduction0"] == pytest.approx(GAMMA * 1 / (1 + 9))  # same outputs, kernel 1 against 1 + 9


def test_adaptive_mac_weighs_each_factor_by_its_ops_memory_access():
    net = supernet("share")
    costs = net.op_costs(SHAPE)
    gammas = Budget("mac", GAMMA, net, costs).gammas(net.derive())
    assert max(float(g.max()) for g in gammas.values()) == pytest.approx(GAMMA)
    normal = gammas["normal"]
    by_edge = dict(zip(net.edges, normal.tolist()))
    assert by_edge[(0, 1)] == by_edge[(1, 5)] == by_edge[(0, 1)]  # an op's inputs and its output edge: its cost
    assert by_edge[(1, 3)] == by_edge[(0, 3)] == by_edge[(2, 3)]
    sep, pool = by_edge[(0, 1)], by_edge[(0, 2)]  # node 1 sepconv3x3, node 2 maxpool3x3, same level
    sep_mac = sum(costs.cells[c].ops[1].memory_access for c in (0, 2))  # shared: the op in both normal blocks
    pool_mac = sum(costs.cells[c].ops[2].memory_access for c in (0, 2))
    assert sep / pool == pytest.approx(sep_mac / pool_mac) and sep > pool
    assert gammas["reduction0"].shape == (2,)


def test_no_budget_is_gamma_everywhere_and_an_unknown_one_is_refused():
    net = supernet("share")
    costs = net.op_costs(SHAPE)
    assert Budget("none", GAMMA, net, costs).gammas(net.derive()) == {"normal": GAMMA, "reduction0": GAMMA}
    with pytest.raises(BadInputError, match="unknown budget 'latency'"):
        Budget("latency", GAMMA, net, costs)


def test_the_trainer_hands_the_budgets_gammas_to_apg_nag():
    from dso_fixtures import trainer

    t = trainer("full", budget="flops", gamma=0.05)
    with torch.no_grad():
        t.model.lambdas["block0"].zero_()
    t.run_epoch("search")
    gammas = {g["key"]: g["gamma"] for g in t.lambda_optimizer.param_groups}
    assert gammas["block0"] == 0.0 and 0 < gammas["block1"] <= 0.05
    assert gammas == pytest.approx(t.budget.gammas(t.derive()))
