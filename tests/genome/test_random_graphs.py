import pytest

from shrinknas.errors import BadInputError
from shrinknas.genome.dag_cell import CNN_SEARCH_OPS, RNN_OPS
from shrinknas.genome.random_graphs import GRAPHS, graph_defaults, random_cell


def reachable_from_input(cell):
    seen = {0}
    for u, v in cell.edges:  # sorted by source, sources before targets: one pass finds everything
        if u in seen:
            seen.add(v)
    return seen


@pytest.mark.parametrize("graph", GRAPHS)
def test_a_seed_gives_one_cell_and_seeds_give_several(graph):
    cells = {random_cell(graph, 12, seed) for seed in range(6)}
    assert random_cell(graph, 12, 3) == random_cell(graph, 12, 3)
    assert len(cells) > 1  # ops, and for random graphs the wiring, change with the seed


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("nodes", [4, 8, 15])
def test_every_cell_is_a_dag_from_the_input_with_balanced_ops(graph, nodes):
    for seed in range(4):
        cell = random_cell(graph, nodes, seed)
        assert cell.n_nodes == nodes and all(u < v for u, v in cell.edges)
        assert reachable_from_input(cell) == set(range(nodes))
        fed = {v for _, v in cell.edges}
        assert fed == set(range(1, nodes))  # every node but the input has a predecessor
        if graph != "complete":  # RandWire: the input feeds exactly the nodes the graph left without one
            from_graph = {v for u, v in cell.edges if u != 0}
            assert {v for u, v in cell.edges if u == 0} == set(range(1, nodes)) - from_graph
        ops = cell.ops[1:]
        # the search's rule balances all N slots, the input's among them: the other N - 1 differ by at most 2
        assert set(ops) <= set(CNN_SEARCH_OPS) and abs(ops.count("conv1x1") - ops.count("sepconv3x3")) <= 2


def generator_edges(cell):
    """Edges among the generator's nodes: all but those the input adds."""
    return [e for e in cell.edges if e[0] != 0]


def test_edge_counts_are_those_of_the_graph_kind():
    n = 14  # generator nodes of a 15-node cell
    for seed in range(4):
        assert len(generator_edges(random_cell("ws", 15, seed))) == n * 4 // 2  # rewiring keeps n k / 2 edges
        assert len(generator_edges(random_cell("ws", 15, seed, k=6, p=0.0))) == n * 6 // 2
        assert len(generator_edges(random_cell("ba", 15, seed))) == 5 * (n - 5)  # m (n - m) from networkx's star
        assert len(generator_edges(random_cell("ba", 15, seed, m=2))) == 2 * (n - 2)
        assert len(generator_edges(random_cell("er", 15, seed, p=1.0))) == n * (n - 1) // 2
        assert generator_edges(random_cell("er", 15, seed, p=0.0)) == []
    assert len(random_cell("complete", 8, 0).edges) == 28  # AutoShrink's N = 8 start


def test_ws_without_rewiring_is_a_ring_lattice_and_the_input_feeds_only_the_first_node():
    cell = random_cell("ws", 7, 0, k=2, p=0.0)  # ring 1-2-3-4-5-6-1
    assert cell.edges == ((0, 1), (1, 2), (1, 6), (2, 3), (3, 4), (4, 5), (5, 6))


def test_er_edges_follow_p_on_average():
    n, p, seeds = 14, 0.3, 40
    mean = sum(len(generator_edges(random_cell("er", 15, s, p=p))) for s in range(seeds)) / seeds
    expected = p * n * (n - 1) / 2  # 27.3, standard error of the mean about 0.7
    assert abs(mean - expected) < 5


def test_defaults_are_randwires_capped_for_small_cells():
    assert graph_defaults("ws", 32) == {"k": 4, "p": 0.75}
    assert graph_defaults("er", 32) == {"p": 0.2}
    assert graph_defaults("ba", 32) == {"m": 5}
    assert graph_defaults("ws", 6) == {"k": 4, "p": 0.75} and graph_defaults("ws", 5) == {"k": 2, "p": 0.75}
    assert graph_defaults("ba", 8) == {"m": 3} and graph_defaults("ba", 3) == {"m": 1}
    assert graph_defaults("complete", 8) == {}


def test_rnn_cells_draw_an_activation_per_node():
    cell = random_cell("ba", 6, 1, kind="rnn")
    assert cell.kind == "rnn" and set(cell.ops) <= set(RNN_OPS) and reachable_from_input(cell) == set(range(6))


@pytest.mark.parametrize(
    "graph, nodes, params",
    [
        ("lattice", 8, {}),
        ("ws", 3, {}),
        ("er", 2, {}),
        ("ws", 8, {"k": 3}),
        ("ws", 8, {"k": 8}),
        ("ws", 8, {"p": 1.5}),
        ("er", 8, {"p": -0.1}),
        ("er", 8, {"p": "high"}),
        ("ba", 8, {"m": 0}),
        ("ba", 8, {"m": 7}),
        ("ba", 8, {"k": 2}),
        ("complete", 8, {"p": 0.5}),
    ],
)
def test_bad_parameters_are_one_line_errors(graph, nodes, params):
    with pytest.raises(BadInputError) as info:
        random_cell(graph, nodes, 0, **params)
    assert "\n" not in str(info.value)
