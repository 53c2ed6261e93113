import pytest
import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.nets.cnn import Cell, CellNetwork, build_proxy_network, cifar_macro, make_divisible, preset_network
from shrinknas.resources import count
from shrinknas.genome.dag_cell import Topology

SHRINK_A = Topology("cnn", ("input", "sepconv3x3", "sepconv3x3", "sepconv3x3", "conv1x1"),
                    ((0, 1), (0, 2), (1, 2), (0, 3), (0, 4), (3, 4)))


def test_cell_concatenates_leaves_and_projects_the_residual():
    cell = Cell(SHRINK_A, c_in=8, width=6, pool=2)
    assert cell.leaves == [2, 4] and cell.c_out == 12
    # node 2 reads concat[x, node1]: its depthwise conv sees 8 + 6 channels
    assert cell.ops["2"][0][0].in_channels == 14
    y = cell(torch.randn(2, 8, 16, 16))
    assert y.shape == (2, 12, 8, 8)
    assert cell.projection[0].stride == (2, 2)


def test_identity_residual_when_shapes_match():
    topo = Topology("cnn", ("input", "conv1x1"), ((0, 1),))
    cell = Cell(topo, c_in=6, width=6)
    assert isinstance(cell.projection, torch.nn.Identity)
    x = torch.randn(1, 6, 5, 5)
    cell.eval()
    with torch.no_grad():
        assert torch.allclose(cell(x), cell.ops["1"](x) + x)


def test_leaf_ops_have_no_final_activation():
    topo = Topology("cnn", ("input", "conv1x1", "conv1x1"), ((0, 1), (1, 2)))
    cell = Cell(topo, 4, 4)
    assert isinstance(cell.ops["1"][-1], torch.nn.ReLU)
    assert isinstance(cell.ops["2"][-1], torch.nn.BatchNorm2d)


def test_empty_cell_is_input_plus_residual():
    cell = Cell(Topology("cnn", ("input", "conv1x1"), ()), 4, 4)
    x = torch.randn(1, 4, 3, 3)
    assert torch.allclose(cell(x), 2 * x)


def test_unreachable_nodes_are_not_built():
    topo = Topology("cnn", ("input", "conv1x1", "sepconv3x3"), ((0, 1),))
    assert list(Cell(topo, 4, 4).ops.keys()) == ["1"]


@pytest.mark.parametrize("side", [28, 32, 8])
def test_proxy_network_shapes(side):
    net = build_proxy_network(Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3", "conv1x1")), ImageTask(), 1, 10)
    assert net(torch.randn(2, 1, side, side)).shape == (2, 10)
    assert [c.ops["1"][0].out_channels for c in net.cells] == [16, 32, 64]


def test_table1_network_stacks_T_cells_and_doubles_width():
    net = CellNetwork(SHRINK_A, cifar_macro(cells_per_stage=2, width_mult=2), 3, 10)
    assert len(net.cells) == 6
    widths = [c.c_out // 2 for c in net.cells]
    assert widths == [32, 32, 64, 64, 128, 128]
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_shrinkcnn_a_matches_paper_table_2():
    net, shape = preset_network(SHRINK_A, "imagenet")
    counts = count(net, shape)
    assert round(counts.params / 1e6, 1) == 3.6  # paper: 3.6 M
    assert abs(counts.macs / 1e9 - 0.385) < 0.005  # paper: 0.385 G
    assert counts.params == 3_636_301 and counts.macs == 383_677_672


def test_make_divisible():
    assert [make_divisible(16 * s) for s in (1, 2, 4)] == [16, 32, 64]
    assert make_divisible(10) == 12 and make_divisible(3) == 4


def test_path_dropout_cuts_edges_per_sample_and_only_in_training():
    torch.manual_seed(0)
    cell = Cell(SHRINK_A, c_in=8, width=6, pool=2)
    x = torch.randn(4, 8, 16, 16)
    cell.eval()
    reference = cell(x)
    cell.path_dropout = 0.5
    assert torch.equal(cell(x), reference)  # evaluation never cuts
    cell.train()
    cell.path_dropout = 1 - 1e-9  # every edge cut: every node dead, only the residual is left
    assert torch.allclose(cell(x), cell.projection(x))


def test_a_node_cut_off_from_its_inputs_is_dead_downstream():
    torch.manual_seed(0)
    chain = Topology("cnn", ("input", "conv1x1", "conv1x1"), ((0, 1), (1, 2)))
    cell = Cell(chain, c_in=4, width=4)  # identity residual: a dead output node leaves exactly x
    cell.path_dropout = 0.5
    x = torch.randn(512, 4, 3, 3)
    dead = (cell(x) - x).flatten(1).abs().amax(1) == 0
    # node 2 lives only if both edges survive (1/4); cutting 0->1 alone must kill it too
    assert 0.65 < dead.float().mean().item() < 0.85


def test_proxy_network_takes_path_dropout_from_the_task():
    task = ImageTask(training=ImageTraining(path_dropout=0.3))
    network = build_proxy_network(SHRINK_A, task, 1, 10)
    assert [cell.path_dropout for cell in network.cells] == [0.3] * task.stages
