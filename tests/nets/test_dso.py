"""The DSO-NAS supernet and derived networks: factors apart from weights, physical pruning that computes what
derivation keeps, the derived network as the supernet restricted to its live edges, and sizes without building."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from shrinknas.genome.dso_block import DsoSpace, random_arch
from shrinknas.nets.dso import DsoBlock, DsoNetwork, DsoSupernet, block_plan, estimate_size
from shrinknas.resources import count, count_params

SHAPE = (1, 12, 12)


def tiny(space: str = "share", **kw) -> DsoSpace:
    settings = dict(stages=2, blocks=1, levels=2, ops=("sepconv3x3", "maxpool3x3"), width=4, space=space)
    return DsoSpace(**{**settings, **kw})


def supernet(space: DsoSpace, seed: int = 0, **kw) -> DsoSupernet:
    torch.manual_seed(seed)
    return DsoSupernet(space, SHAPE[0], 10, **kw)


def set_factors(net: DsoSupernet, key: str, live: set) -> None:
    with torch.no_grad():
        p = net.lambdas[key]
        p.copy_(torch.tensor([1.0 if e in live else 0.0 for e in net.edges][: len(p)]))


def test_factors_are_kept_apart_from_weights():
    net = supernet(tiny("full"))
    assert sorted(net.named_scaling_factors()) == ["block0", "block1", "reduction0"]
    assert all(torch.equal(p, torch.ones_like(p)) for p in net.scaling_factors())
    factors, weights = {id(p) for p in net.scaling_factors()}, {id(p) for p in net.weights()}
    assert not factors & weights
    trainable = {id(p) for p in net.parameters() if p.requires_grad}
    assert factors | weights == trainable
    shared = supernet(tiny("share", blocks=2))
    assert sorted(shared.named_scaling_factors()) == ["normal", "reduction0"]
    assert len(shared.lambdas["normal"]) == len(tiny().complete_edges()) == 12


def test_bn_gamma_inside_ops_is_fixed_and_the_block_output_bn_learns():
    net = supernet(tiny())
    block = net.cells[0]
    inner = [m for op in block.ops.values() for m in op.modules() if isinstance(m, nn.BatchNorm2d)]
    inner += [m for m in net.cells[1].modules() if isinstance(m, nn.BatchNorm2d)]
    assert inner and all(not m.weight.requires_grad and m.bias.requires_grad for m in inner)
    assert block.bn.weight.requires_grad and net.stem[1].weight.requires_grad
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in inner)


def test_raw_level1_inputs_have_no_factor():
    net = supernet(tiny(), scale_level1=False)
    assert len(net.lambdas["normal"]) == 10 and (0, 1) not in net.edges


def test_pruned_ops_are_not_computed_and_the_output_is_what_the_complete_supernet_gives():
    net = supernet(tiny())
    # op 1 (level 1) feeds op 3 (level 2) which feeds the output; op 2 has an input but no way out, op 4 nothing
    set_factors(net, "normal", {(0, 1), (1, 3), (3, 5), (0, 2), (2, 4)})
    calls = []
    for v, op in net.cells[0].ops.items():
        op.register_forward_hook(lambda m, i, o, v=v: calls.append(int(v)))
    x = torch.randn(4, *SHAPE)
    pruned = net(x)
    assert sorted(set(calls)) == [1, 3]
    calls.clear()
    net.prune = False
    complete = net(x)  # every op runs; zero factors cancel what pruning skipped (beta is 0 at init)
    assert sorted(set(calls)) == [1, 2, 3, 4]
    torch.testing.assert_close(pruned, complete)
    assert net.derive().blocks == (((0, 1), (1, 3), (3, 5)),)


def test_pruning_costs_no_factor_its_gradient_and_skipped_weights_get_none():
    net = supernet(tiny())
    set_factors(net, "normal", {(0, 1), (1, 5), (0, 2), (2, 4)})
    net(torch.randn(4, *SHAPE)).square().sum().backward()
    grad = net.lambdas["normal"].grad
    assert grad is not None and grad[net.edges.index((1, 5))] != 0
    assert grad[net.edges.index((2, 4))] == 0  # op 4 has no way out: nothing flows back
    assert all(p.grad is None for p in net.cells[0].ops["4"].parameters())
    assert all(p.grad is not None for p in net.cells[0].ops["1"].parameters() if p.requires_grad)


def transfer(net: DsoSupernet, derived: DsoNetwork) -> None:
    """Copy the supernet's weights into the derived network: same names, the 1x1 on the live ops' columns."""
    source = net.state_dict()
    state = {}
    for name, value in derived.state_dict().items():
        if name.endswith("reduce.weight"):
            cell = int(name.split(".")[1])
            c = net.cells[cell].channels
            cols = [net.cells[cell].outputs.index(v) for v in derived.cells[cell].outputs]
            value = source[name].reshape(c, -1, c)[:, cols].reshape(value.shape)
        else:
            value = source[name]
        state[name] = value
    derived.load_state_dict(state)


@pytest.mark.parametrize("space", ["share", "full"])
def test_the_derived_network_is_the_supernet_on_its_live_edges(space):
    net = supernet(tiny(space, blocks=2))
    rng = random.Random(1)
    for key in net.named_scaling_factors():
        if key.startswith("reduction"):
            continue
        with torch.no_grad():  # a random live pattern, factors 1 where kept
            net.lambdas[key].copy_(torch.tensor([float(rng.random() < 0.5) for _ in net.edges]))
    with torch.no_grad():
        net.lambdas["reduction0"].copy_(torch.tensor([0.0, 1.0]))
    arch = net.derive()
    assert arch.reductions == (("conv3x3",),)
    derived = DsoNetwork(arch, SHAPE[0], 10)
    transfer(net, derived)
    x = torch.randn(3, *SHAPE)
    net.eval(), derived.eval()
    torch.testing.assert_close(derived(x), net(x))


def test_an_empty_block_is_the_identity():
    space = tiny()
    block = DsoBlock(space, 4, [], [])
    x = torch.randn(2, 4, 5, 5)
    assert block(x, block_plan(space, ())) is x and count_params(block) == 0


@pytest.mark.parametrize("space, mult", [("share", 1.0), ("full", 1.5), ("full", 0.5)])
def test_size_estimate_and_kept_macs_match_the_built_network(space, mult):
    s = tiny(space, blocks=2, levels=3, ops=("sepconv3x3", "sepconv5x5", "avgpool3x3"))
    net = supernet(s)
    costs = net.op_costs(SHAPE)
    assert costs.complete_macs == count(net, SHAPE).macs
    for seed in range(3):
        rng = random.Random(seed)
        top = len(s.complete_edges())
        arch = random_arch(s, [rng.choice([0, *range(2, top + 1)]) for _ in range(s.n_searched)], rng,
                           reductions=[rng.choice([["conv1x1"], ["conv3x3"], ["conv1x1", "conv3x3"]])])
        built = DsoNetwork(arch, SHAPE[0], 10, width_mult=mult)
        if mult == 1.0:
            assert costs.kept_macs(arch) == count(built, SHAPE).macs
        elements = []
        hooks = [m.register_forward_hook(lambda m, i, o: elements.append(o.numel()))
                 for m in built.modules() if not list(m.children())]
        with torch.no_grad():
            built.eval()(torch.zeros(1, *SHAPE))
        for h in hooks:
            h.remove()
        assert estimate_size(arch, SHAPE, 10, mult) == (count_params(built), sum(elements))


def test_init_follows_the_authors():
    net = supernet(tiny())
    assert torch.count_nonzero(net.classifier.bias) == 0
    assert 0.005 < float(net.classifier.weight.detach().std()) < 0.02
    conv = net.cells[0].ops["1"][1].weight  # pointwise 4 -> 4: Kaiming fan-out std sqrt(2 / 4)
    assert 0.3 < float(conv.detach().std()) < 1.2


def test_a_zero_factor_between_live_ops_still_gets_its_gradient():
    """Only dead ops are skipped: a pruned edge between two live nodes stays in the product, as in the complete
    supernet, so APG-NAG may bring it back."""
    net = supernet(tiny())
    set_factors(net, "normal", {(0, 1), (1, 3), (3, 5)})
    net(torch.randn(4, *SHAPE)).square().sum().backward()
    grad = net.lambdas["normal"].grad
    assert grad[net.edges.index((1, 5))] != 0 and grad[net.edges.index((0, 3))] != 0
    assert grad[net.edges.index((0, 2))] == 0  # op 2 is dead


def test_channels_last_computes_the_same():
    net = supernet(tiny(blocks=2, levels=3))
    set_factors(net, "normal", set(net.edges[::2]))
    x = torch.randn(3, *SHAPE)
    net.eval()
    expected = net(x)
    net.to(memory_format=torch.channels_last)
    torch.testing.assert_close(net(x.contiguous(memory_format=torch.channels_last)), expected)


def test_a_derived_network_rebuilds_from_its_registered_spec():
    from shrinknas.nets.dso import DSO_NETWORK, dso_network_spec
    from shrinknas.nets.registry import NetworkSpec, build_network, network_kinds

    arch = random_arch(tiny("full"), [3, 5], random.Random(0))
    spec = NetworkSpec.from_dict(dso_network_spec(arch, 1, 10, width_mult=1.5).to_dict())
    assert DSO_NETWORK in network_kinds()
    rebuilt = build_network(spec, seed=3)
    torch.manual_seed(3)
    direct = DsoNetwork(arch, 1, 10, width_mult=1.5).eval()
    x = torch.randn(2, *SHAPE)
    torch.testing.assert_close(rebuilt(x), direct(x))
