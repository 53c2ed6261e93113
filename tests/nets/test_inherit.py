"""Weight inheritance: a candidate (parent minus one edge) starts from its parent's trained weights."""

import torch

from shrinknas.config import ImageTask
from shrinknas.nets.cnn import build_proxy_network
from shrinknas.nets.inherit import inherit
from shrinknas.genome.dag_cell import Topology

TASK = ImageTask(stem_channels=24)  # 24 != 2 leaves x 16: every cell keeps a conv projection in this test
PARENT = Topology.complete("cnn", ("input", "sepconv3x3", "conv1x1", "sepconv3x3", "conv1x1"))


def trained_like(topology: Topology, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build_proxy_network(topology, TASK, 1, 10)
    with torch.no_grad():  # BN statistics and affine params that differ from a fresh init
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net.eval()


def test_kept_channels_equal_the_parent_and_the_removed_edge_is_gone():
    parent = trained_like(PARENT, 0)
    child_cell = PARENT.without((1, 3))
    child = build_proxy_network(child_cell, TASK, 1, 10)
    inherit(child, parent)
    p, c = parent.state_dict(), child.state_dict()
    for i in range(3):
        # node 3 (sepconv) read concat[x, n1, n2] in the parent and reads concat[x, n2] in the child
        c_in = (24, 16, 32)[i]  # the stem, then the previous cell's output (its one leaf, node 4)
        w = 16 * 2**i
        keep = torch.cat([torch.arange(c_in), torch.arange(c_in + w, c_in + 2 * w)])
        for name in ("ops.3.0.0.weight", "ops.3.0.1.running_mean", "ops.3.0.1.weight"):
            assert torch.equal(c[f"cells.{i}.{name}"], p[f"cells.{i}.{name}"][keep])
        assert torch.equal(c[f"cells.{i}.ops.3.1.0.weight"], p[f"cells.{i}.ops.3.1.0.weight"][:, keep])
        # nodes whose inputs did not change are copied whole
        for name in ("ops.1.0.0.weight", "ops.2.0.weight", "ops.4.0.weight", "ops.4.1.running_var"):
            assert torch.equal(c[f"cells.{i}.{name}"], p[f"cells.{i}.{name}"])
    assert torch.equal(c["classifier.weight"], p["classifier.weight"])
    assert torch.equal(c["stem.0.weight"], p["stem.0.weight"])


def test_child_computes_what_the_parent_computes_when_the_edge_carried_nothing():
    parent = trained_like(PARENT, 1)
    with torch.no_grad():  # make edge 2 -> 4 (conv1x1 at node 4) carry nothing in every cell
        for i, w in enumerate((16, 32, 64)):
            c_in = (24, 16, 32)[i]
            weight = parent.cells[i].ops["4"][0].weight
            weight[:, c_in + w : c_in + 2 * w] = 0  # node 2 sits after the input and node 1
    child = build_proxy_network(PARENT.without((2, 4)), TASK, 1, 10).eval()
    inherit(child, parent)
    x = torch.randn(4, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(child(x), parent(x), atol=1e-5)


def test_a_new_leaf_enters_the_next_layers_through_zero_weights():
    # in 0->1->2 plus 0->2, removing 1->2 makes node 1 a leaf: the cell output gains its 16 channels
    parent_cell = Topology("cnn", ("input", "conv1x1", "conv1x1"), ((0, 1), (0, 2), (1, 2)))
    parent = trained_like(parent_cell, 2)
    child = build_proxy_network(parent_cell.without((1, 2)), TASK, 1, 10)
    inherit(child, parent)
    assert child.cells[0].leaves == [1, 2]
    next_in = child.cells[1].ops["1"][0].weight  # reads concat[leaf 1, leaf 2] of cell 0
    assert torch.all(next_in[:, :16] == 0)
    assert torch.equal(next_in[:, 16:], parent.cells[1].ops["1"][0].weight)
    assert torch.all(child.cells[0].projection[0].weight[:16] == 0)


CHAIN = Topology("cnn", ("input", "conv1x1", "conv1x1"), ((0, 1), (1, 2)))  # removing 1->2 kills leaf 2


def test_without_handover_a_leaf_replacing_a_dead_one_cuts_the_network_off():
    parent = trained_like(CHAIN, 3)
    child = build_proxy_network(CHAIN.without((1, 2)), TASK, 1, 10).eval()
    inherit(child, parent)
    assert child.cells[0].leaves == [1]
    with torch.no_grad():  # every layer after cell 0 reads it through zero weights: the input no longer matters
        outputs = child(torch.randn(4, 1, 12, 12))
    assert torch.allclose(outputs, outputs[:1].expand_as(outputs), atol=1e-6)


def test_with_handover_the_new_leaf_inherits_the_dead_leafs_output_weights():
    parent = trained_like(CHAIN, 3)
    child = build_proxy_network(CHAIN.without((1, 2)), TASK, 1, 10).eval()
    inherit(child, parent, handover=True)
    p, c = parent.state_dict(), child.state_dict()
    for name in ("cells.0.ops.1.0.weight", "cells.0.projection.0.weight", "cells.0.projection.1.running_mean",
                 "cells.1.ops.1.0.weight", "cells.1.projection.0.weight"):
        assert torch.equal(c[name], p[name]), name
    assert "cells.0.ops.2.0.weight" not in c  # the dead leaf itself is gone
    with torch.no_grad():
        outputs = child(torch.randn(4, 1, 12, 12))
    assert not torch.allclose(outputs, outputs[:1].expand_as(outputs), atol=1e-3)


def test_handover_leaves_every_other_removal_as_it_was():
    parent = trained_like(PARENT, 4)
    for edge in PARENT.edges:
        plain, handed = (trained_like(PARENT.without(edge), 5) for _ in range(2))
        inherit(plain, parent)
        inherit(handed, parent, handover=True)
        for name, tensor in plain.state_dict().items():  # no leaf of the complete DAG dies from one removal
            assert torch.equal(tensor, handed.state_dict()[name]), (edge, name)
