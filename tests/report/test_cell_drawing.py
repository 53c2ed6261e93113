import networkx as nx

from shrinknas.report.cell import _edge_bends, cell_graph, draw_cell
from shrinknas.genome.dag_cell import Topology

FOUND = Topology("cnn", ("input", "sepconv3x3", "sepconv3x3", "conv1x1", "conv1x1", "conv1x1"),
                 ((0, 1), (0, 3), (0, 5), (1, 2), (1, 3), (1, 5), (2, 4), (2, 5), (3, 4), (3, 5), (4, 5)))


def test_graph_has_an_output_node_fed_by_the_leaves():
    g = cell_graph(Topology("cnn", ("input", "conv1x1", "conv1x1", "conv1x1"), ((0, 1), (0, 2), (2, 3))))
    assert set(g.predecessors("out")) == {1, 3}
    assert g.nodes[0]["op"] == "input" and nx.is_directed_acyclic_graph(g)


def test_edges_that_would_cross_a_node_are_bent_and_others_are_straight():
    # a vertical stack: 0 above 1 above 2; edge 0 -> 2 would run straight through node 1
    g = nx.DiGraph([(0, 1), (1, 2), (0, 2)])
    pos = {0: (0.0, 2.0), 1: (0.0, 1.0), 2: (0.0, 0.0)}
    bends = _edge_bends(g, pos)
    assert bends[(0, 1)] == 0.0 and bends[(1, 2)] == 0.0 and bends[(0, 2)] != 0.0


def test_drawing_writes_a_picture(tmp_path):
    path = tmp_path / "cell.svg"
    draw_cell(FOUND, path)
    text = path.read_text()
    assert text.count("<path") > 11  # at least one path per edge besides the nodes
