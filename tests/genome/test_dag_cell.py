import json
import random

import networkx as nx
import pytest

from shrinknas.errors import BadInputError
from shrinknas.genome.dag_cell import Topology, balanced_ops

OPS5 = ("input", "conv1x1", "sepconv3x3", "conv1x1", "sepconv3x3")


def test_complete_dag_has_every_forward_edge():
    cell = Topology.complete("cnn", ("input",) + ("conv1x1", "sepconv3x3") * 3 + ("conv1x1",))
    assert cell.n_nodes == 8 and len(cell.edges) == 28
    assert all(u < v for u, v in cell.edges)
    assert nx.is_directed_acyclic_graph(cell.to_networkx())


def test_immutable_hashable_and_json_round_trip():
    cell = Topology.complete("cnn", OPS5)
    again = Topology.from_json(cell.to_json())
    assert again == cell and hash(again) == hash(cell)
    assert {cell: 1}[again] == 1
    with pytest.raises(AttributeError):
        cell.edges = ()  # type: ignore[misc]
    assert json.loads(cell.to_json())["ops"][0] == "input"


def test_without_drops_edges_of_unreachable_nodes():
    # 0->1, 1->2, 0->3, 2->3: removing 0->1 makes 1 unreachable, so 1->2 goes, then 2 is dead and 2->3 goes too
    cell = Topology("cnn", OPS5[:4], ((0, 1), (1, 2), (0, 3), (2, 3)))
    smaller = cell.without((0, 1))
    assert smaller.edges == ((0, 3),)
    assert smaller.reachable() == {0, 3}
    assert smaller.leaves() == [3]


def test_shrink_space_is_one_removal_per_edge():
    cell = Topology.complete("cnn", OPS5)
    space = cell.shrink_space()
    assert [e for e, _ in space] == list(cell.edges)
    for edge, cand in space:
        assert edge not in cand.edges and len(cand.edges) <= len(cell.edges) - 1


def test_leaves_and_predecessors_ascending():
    cell = Topology("cnn", OPS5, ((0, 1), (0, 2), (1, 2), (0, 3), (0, 4), (3, 4)))
    assert cell.leaves() == [2, 4]
    assert cell.predecessors(4) == [0, 3]
    assert Topology("cnn", OPS5, ()).leaves() == [0]


def test_key_ignores_unreachable_parts_but_not_ops():
    a = Topology("cnn", OPS5, ((0, 1), (2, 3)))
    b = Topology("cnn", OPS5, ((0, 1),))
    assert a.key() == b.key()
    c = Topology("cnn", ("input", "sepconv3x3") + OPS5[2:], ((0, 1),))
    assert c.key() != b.key()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[1, 1]]}, "self-loop"),
        ({"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[1, 0]]}, "backwards"),
        ({"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[0, 5]]}, "outside"),
        ({"kind": "cnn", "ops": ["input", "conv9x9"], "edges": []}, "unknown cnn op"),
        ({"kind": "cnn", "ops": ["conv1x1", "conv1x1"], "edges": []}, "node 0"),
        ({"kind": "gnn", "ops": ["input"], "edges": []}, "unknown cell kind"),
        ({"kind": "cnn", "ops": ["input"]}, "missing edges"),
        ({"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[0, 1], [0, 1]]}, "twice"),
        ({"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [["0", 1]]}, "integer pairs"),
        ([1, 2], "JSON object"),
    ],
)
def test_invalid_cells_are_rejected_with_a_reason(data, message):
    with pytest.raises(BadInputError, match=message):
        Topology.from_dict(data)


def test_malformed_json():
    with pytest.raises(BadInputError, match="not valid JSON"):
        Topology.from_json("{nope")


def test_cnn_ops_are_exactly_balanced_and_seeded():
    ops = balanced_ops("cnn", 8, random.Random(3))
    assert ops[0] == "input"
    shuffled = [i % 2 for i in range(8)]
    random.Random(3).shuffle(shuffled)
    assert ops[1:] == tuple(("conv1x1", "sepconv3x3")[c] for c in shuffled[1:])
    assert balanced_ops("cnn", 8, random.Random(3)) == ops
    assert len({balanced_ops("cnn", 8, random.Random(s)) for s in range(20)}) > 1


def test_rnn_ops_are_activations():
    ops = balanced_ops("rnn", 6, random.Random(0))
    assert len(ops) == 6 and set(ops) <= {"relu", "sigmoid", "tanh", "identity"}
    Topology.complete("rnn", ops)  # valid
