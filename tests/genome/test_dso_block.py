"""DSO-NAS's search space and derived architectures: the block's edges, derivation from factors, random structures
of a given size, and one-line errors for hand-written files."""

from __future__ import annotations

import json
import random

import pytest

from shrinknas.errors import BadInputError
from shrinknas.genome import DsoArch, DsoSpace, genome_from_dict, genome_kinds, load_genome
from shrinknas.genome.dso_block import BRANCHES, derive, prune_dead, random_arch, random_block

PAPER = DsoSpace()  # 3 stages x 8 blocks, M = N = 4, width 48, share


def test_the_paper_block_has_the_authors_factor_counts():
    """Notes: 124 factors per block in the authors' code (108 inputs + 16 outputs, raw level-1 inputs);
    the paper's eq. 3 also scales the 4 level-1 inputs."""
    assert len(PAPER.lambda_edges(scale_level1=False)) == 124
    assert len(PAPER.lambda_edges(scale_level1=True)) == len(PAPER.complete_edges()) == 128
    inputs = [len([e for e in PAPER.complete_edges() if e[1] == v]) for v in PAPER.op_nodes()]
    assert inputs == [1] * 4 + [5] * 4 + [9] * 4 + [13] * 4  # (m - 1) N + 1 inputs at level m
    assert all(PAPER.level(u) < PAPER.level(v) for u, v in PAPER.complete_edges())
    assert (0, PAPER.output) not in PAPER.complete_edges()


def small(space: str = "share", levels: int = 2, ops: tuple[str, ...] = ("sepconv3x3", "maxpool3x3")) -> DsoSpace:
    return DsoSpace(stages=2, blocks=2, levels=levels, ops=ops, width=4, space=space)


def test_derive_keeps_positive_factors_and_drops_dead_ops():
    space = small()  # nodes: 0 in; 1, 2 level 1; 3, 4 level 2; 5 out
    edges = space.lambda_edges()
    assert edges == ((0, 1), (0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5), (3, 5), (4, 5))
    lam = dict.fromkeys(edges, 0.0)
    lam.update({(0, 1): 0.5, (1, 3): 0.2, (3, 5): 1.0,  # a live path 0 -> 1 -> 3 -> out
                (0, 2): 0.7,  # op 2 has an input but no way out: dropped
                (4, 5): 0.3})  # op 4 has a way out but no input: dropped
    arch = derive(space, [[lam[e] for e in edges]], [[0.0, 0.4]])
    assert arch.blocks == (((0, 1), (1, 3), (3, 5)),)
    assert arch.reductions == (("conv3x3",),)


def test_an_empty_block_is_the_identity_and_a_reduction_keeps_a_branch():
    space = small()
    arch = derive(space, [[0.0] * len(space.lambda_edges())], [[0.0, 0.0]])
    assert arch.blocks == ((),) and arch.kept_edges == (0,)
    assert len(arch.reductions[0]) == 1  # both factors zero: still one branch
    assert derive(space, [[1.0] * 12], [[0.3, 0.0]]).reductions == (("conv1x1",),)
    assert derive(space, [[1.0] * 12], [[0.3, 0.1]]).reductions == (BRANCHES,)


def test_raw_level1_inputs_carry_no_factor_but_live_with_their_op():
    space = small()
    edges = space.lambda_edges(scale_level1=False)
    assert (0, 1) not in edges and (0, 2) not in edges and (0, 3) in edges
    lam = {e: 0.0 for e in edges}
    lam[(1, 5)] = 1.0
    arch = derive(space, [[lam[e] for e in edges]], [[1.0, 1.0]], scale_level1=False)
    assert arch.blocks == (((0, 1), (1, 5)),)  # op 1 lives through its output; its raw input with it


def test_full_space_has_a_wiring_per_block():
    space = small("full")
    assert space.n_searched == 4 and space.wiring_of(1, 1) == 3 and small().wiring_of(1, 1) == 0
    arch = DsoArch.complete(space)
    assert arch.wiring(1, 0) == space.complete_edges() and len(arch.blocks) == 4


def test_the_genome_round_trips_and_loads_as_its_kind(tmp_path):
    space = small("full")
    arch = random_arch(space, [2, 3, 4, 5], random.Random(0), reductions=[["conv3x3"]])
    assert "dso" in genome_kinds()
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch.to_dict()))
    loaded = load_genome(path)
    assert loaded == arch and hash(loaded) == hash(arch) and loaded.key() == arch.key()
    assert genome_from_dict(arch.to_dict()).kept_edges == (2, 3, 4, 5)
    assert random_arch(space, [2, 3, 4, 5], random.Random(1)).key() != arch.key()


@pytest.mark.parametrize("n_edges", [0, 2, 3, 5, 9, 12])
def test_a_random_block_has_exactly_the_asked_live_edges(n_edges):
    space = small()
    for seed in range(5):
        edges = random_block(space, n_edges, random.Random(seed))
        assert len(edges) == n_edges and prune_dead(space, edges) == edges
    assert random_block(space, n_edges, random.Random(3)) == random_block(space, n_edges, random.Random(3))


def test_random_blocks_vary_and_the_paper_block_grows_too():
    space = small()
    assert len({random_block(space, 4, random.Random(s)) for s in range(20)}) > 3
    edges = random_block(PAPER, 40, random.Random(0))
    assert len(edges) == 40 and prune_dead(PAPER, edges) == edges


@pytest.mark.parametrize("bad, message", [
    (dict(levels=0), "levels must be a whole number of at least 1, got 0"),
    (dict(stages=0), "stages must be"),
    (dict(ops=("conv7x7",)), "unknown DSO-NAS op 'conv7x7'"),
    (dict(ops=("maxpool3x3", "maxpool3x3")), "list an op twice"),
    (dict(space="half"), "unknown search space 'half'"),
])
def test_bad_space_settings_are_one_line_errors(bad, message):
    with pytest.raises(BadInputError, match=message) as info:
        DsoSpace(**bad)
    assert "\n" not in str(info.value)


def arch_file(**changes):
    data = DsoArch.complete(small()).to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize("data, message", [
    (arch_file(blocks=[[[0, 1], [1, 0]]]), r"edge \[1, 0\] goes from level 1 to level 0"),
    (arch_file(blocks=[[[0, 1], [1, 9]]]), "outside 0..5"),
    (arch_file(blocks=[[[0, 5]]]), "joins the input to the output"),
    (arch_file(blocks=[[[0, 1], [0, 2], [1, 5]]]), r"edge \[0, 2\] is on no path"),
    (arch_file(blocks=[[[0, 1], [1, 5], [1, 5]]]), "listed twice"),
    (arch_file(blocks=[[["a", 1]]]), "integer pairs"),
    (arch_file(blocks=[[], []]), "needs 1 block wiring"),
    (arch_file(reductions=[[]]), "keeps no branch"),
    (arch_file(reductions=[["conv5x5"]]), "unknown branch 'conv5x5'"),
    (arch_file(reductions=[]), "need 1 reduction block"),
    (arch_file(space={**small().to_dict(), "levels": 0}), "levels must be"),
    (arch_file(space={**small().to_dict(), "depth": 3}), "unknown DSO-NAS space setting 'depth'"),
    ({"kind": "dso", "space": small().to_dict()}, "missing blocks, reductions"),
])
def test_a_bad_hand_written_file_is_one_line(tmp_path, data, message):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BadInputError, match=message) as info:
        load_genome(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_random_counts_out_of_range_are_refused():
    with pytest.raises(BadInputError, match="0 or 2..12 edges"):
        random_block(small(), 1, random.Random(0))
    with pytest.raises(BadInputError, match="0 or 2..12 edges"):
        random_block(small(), 13, random.Random(0))
    with pytest.raises(BadInputError, match="give that many edge counts"):
        random_arch(small("full"), [2, 2], random.Random(0))


def test_a_one_level_block_has_even_edge_counts_only():
    space = small(levels=1)
    assert len(random_block(space, 4, random.Random(0))) == 4
    with pytest.raises(BadInputError, match="even count"):
        random_block(space, 3, random.Random(0))


def test_every_count_in_range_is_reachable():
    space = small(levels=3)
    top = len(space.complete_edges())
    for n_edges in range(2, top + 1):
        edges = random_block(space, n_edges, random.Random(n_edges))
        assert len(edges) == n_edges and prune_dead(space, edges) == edges
