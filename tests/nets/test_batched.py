"""K candidate networks as one batched module: block k computes candidate k, forward and backward."""

import pytest
import torch
from torch import nn

from shrinknas.config import ImageTask
from shrinknas.nets.batched import BatchedCellNetwork, slot
from shrinknas.nets.cnn import build_proxy_network, proxy_macro
from shrinknas.nets.inherit import transfer_state
from shrinknas.genome.dag_cell import Topology
from shrinknas.train.common import seed_everything

TASK = ImageTask()  # stem 32, widths 16/32/64: a cell with two leaves keeps an identity residual in stage 1
# 0->1->2->4, 0->3->4, 1->3; node 1 feeds nodes 2 and 3, nodes 2 and 3 feed leaf 4
PARENT = Topology("cnn", ("input", "sepconv3x3", "conv1x1", "sepconv3x3", "conv1x1"),
                  ((0, 1), (1, 2), (0, 3), (1, 3), (2, 4), (3, 4)))
REMOVED = [
    (0, 1),  # nodes 1 and 2 become unreachable
    (2, 4),  # node 2 (conv1x1) becomes a leaf: 2 leaves x 16 = the stem's 32 channels, identity residual
    (3, 4),  # node 3 (sepconv) becomes a leaf, identity residual
    (1, 3),  # node 3 reads the input only
]
CELLS = [PARENT.without(e) for e in REMOVED]


def randomised(net: nn.Module) -> nn.Module:
    """BN statistics and affine parameters as after training, so eval mode is a real test."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net


def candidates(cells=CELLS, seed=0, dtype=torch.float32) -> list[nn.Module]:
    nets = []
    for cell in cells:
        seed_everything(seed)
        nets.append(randomised(build_proxy_network(cell, TASK, 1, 10)).to(dtype))
    return nets


def batched(nets, cells=CELLS, dtype=torch.float32) -> BatchedCellNetwork:
    model = BatchedCellNetwork(cells, proxy_macro(TASK), 1, 10)
    model.load(nets)
    return model.to(dtype)


def test_the_step_mixes_every_case():
    nets = candidates()
    stage1 = [net.cells[0] for net in nets]
    assert [isinstance(c.projection, nn.Identity) for c in stage1] == [False, True, True, False]
    assert [c.leaves for c in stage1] == [[4], [2, 4], [3, 4], [4]]
    assert stage1[0].nodes == [3, 4]
    union = batched(nets).cells[0]
    assert union.nodes == [1, 2, 3, 4] and union.outputs == [2, 3, 4]


@pytest.mark.parametrize("train", [True, False])
def test_batched_forward_equals_each_candidate_forward(train):
    nets = candidates()
    model = batched(nets)
    x = torch.randn(16, 1, 28, 28)
    for net in [*nets, model]:
        net.train(train)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (16, len(CELLS), 10)
        for k, net in enumerate(nets):
            torch.testing.assert_close(out[:, k], net(x), rtol=1e-5, atol=1e-5)


def test_channels_last_gives_the_same_result():
    nets = candidates()
    model = batched(nets).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        plain = model(x)
        model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), plain)


def test_extract_returns_each_candidate_exactly():
    nets = candidates(seed=0)
    model = batched(nets)
    for k, fresh in enumerate(candidates(seed=1)):
        model.extract(k, fresh)
        for name, tensor in nets[k].state_dict().items():
            assert torch.equal(fresh.state_dict()[name], tensor), name


def test_entries_no_candidate_owns_are_zero():
    model = batched(candidates())
    union = model.state_dict()
    # node 3 of stage 1 reads [x, node 1]; the candidate without edge 1->3 owns no weight on node 1's channels
    pointwise = slot(union["cells.0.ops.3.1.0.weight"], 4, 3)
    assert pointwise.shape == (16, 48, 1, 1)
    assert torch.all(pointwise[:, 32:] == 0) and torch.all(pointwise[:, :32] != 0)
    # the candidate without edge 0->1 has no node 1 at all
    assert torch.all(slot(union["cells.0.ops.1.0.0.weight"], 4, 0) == 0)


def test_each_candidate_gets_its_own_gradient():
    dtype = torch.float64
    nets = candidates(dtype=dtype)
    model = batched(nets, dtype=dtype).train()
    x, y = torch.randn(8, 1, 28, 28, dtype=dtype), torch.randint(0, 10, (8,))
    out = model(x)
    sum(nn.functional.cross_entropy(out[:, k], y) for k in range(len(nets))).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    for k, net in enumerate(nets):
        net.train()
        nn.functional.cross_entropy(net(x), y).backward()
        theirs = {name: torch.full_like(p, float("nan")) for name, p in net.named_parameters()}
        transfer_state(theirs, net.axes, {n: slot(g, len(nets), k) for n, g in grads.items()}, model.axes)
        for name, p in net.named_parameters():
            torch.testing.assert_close(theirs[name], p.grad, rtol=1e-9, atol=1e-12, msg=name)
    # what a candidate lacks learns nothing (its zero weights stay zero under any optimizer): node 4 of the
    # candidate without edge 2->4 still receives node 2's output, through weights that must not change
    columns = slot(grads["cells.0.ops.4.0.weight"], len(nets), 1)
    assert columns.shape == (16, 32, 1, 1)
    assert torch.all(columns[:, :16] == 0) and torch.all(columns[:, 16:] != 0)


def test_an_empty_cell_batches_with_others():
    # removing 0->1 from 0->1->2 leaves no node: the cell is its input plus the identity residual
    parent = Topology("cnn", ("input", "conv1x1", "sepconv3x3"), ((0, 1), (1, 2)))
    cells = [parent.without(e) for e in parent.edges] + [parent]
    nets = candidates(cells)
    model = batched(nets, cells).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        out = model(x)
        for k, net in enumerate(nets):
            torch.testing.assert_close(out[:, k], net.eval()(x), rtol=1e-5, atol=1e-5)


def test_load_refuses_a_network_of_another_cell():
    nets = candidates()
    model = BatchedCellNetwork(CELLS, proxy_macro(TASK), 1, 10)
    with pytest.raises(ValueError):
        model.load(nets[::-1])


def test_load_refuses_a_same_shaped_network_of_another_cell():
    parent = Topology.complete("cnn", ("input", "conv1x1", "conv1x1", "conv1x1", "conv1x1"))
    cells = [parent.without((1, 4)), parent.without((2, 4))]  # node 4 reads [x, 2, 3] or [x, 1, 3]
    nets = candidates(cells)
    assert [t.shape for t in nets[0].state_dict().values()] == [t.shape for t in nets[1].state_dict().values()]
    with pytest.raises(ValueError):
        BatchedCellNetwork(cells, proxy_macro(TASK), 1, 10).load(nets[::-1])
