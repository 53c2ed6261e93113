"""The highway cell against hand-written equations, leaf averaging, and the published ShrinkRNN's size."""

import numpy as np
import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.nets.rnn import Dropouts, HighwayCell, LanguageModel, count_language_model
from shrinknas.genome.dag_cell import Topology

SHRINKRNN = Topology(
    "rnn",
    ("tanh", "identity", "sigmoid", "sigmoid", "tanh", "identity"),
    ((0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 3), (1, 4), (1, 5), (2, 4), (2, 5), (3, 4), (3, 5)),
)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def highway(s, w, act):
    """Paper eqs. (2)-(3): (c, h) = s W; s + sigmoid(c) * (act(h) - s)."""
    ch = s @ w
    c, h = ch[:, : s.shape[1]], ch[:, s.shape[1] :]
    return s + sigmoid(c) * (act(h) - s)


def set_weights(cell: HighwayCell, w0: np.ndarray, edges: dict) -> None:
    with torch.no_grad():
        cell.w0.copy_(torch.tensor(w0, dtype=torch.float32))
        for (i, j), w in edges.items():
            cell.edge_weight(i, j).copy_(torch.tensor(w, dtype=torch.float32))


def test_one_step_matches_hand_computed_equations():
    # nodes: 0 (tanh), 1 (relu), 2 (sigmoid); edges 0->1, 0->2, 1->2; node 2 is the only leaf
    cell = HighwayCell(Topology("rnn", ("tanh", "relu", "sigmoid"), ((0, 1), (0, 2), (1, 2))), ninp=2, nhid=2)
    w0 = np.array([[0.5, -1.0, 0.2, 0.3], [1.0, 0.5, -0.4, 0.8], [-0.3, 0.2, 0.9, -0.6], [0.7, -0.5, 0.1, 0.4]])
    w01 = np.array([[0.2, -0.3, 1.5, -2.0], [0.4, 0.1, -0.7, 0.6]])
    w02 = np.array([[-0.5, 0.6, 0.3, 0.9], [0.8, -0.2, -1.1, 0.5]])
    w12 = np.array([[0.3, 0.3, -0.8, 1.2], [-0.6, 0.9, 0.4, -0.2]])
    set_weights(cell, w0, {(0, 1): w01, (0, 2): w02, (1, 2): w12})
    x = np.array([[1.0, -2.0]])
    h_prev = np.array([[0.5, -0.25]])

    c0h0 = np.concatenate([x, h_prev], 1) @ w0
    s0 = h_prev + sigmoid(c0h0[:, :2]) * (np.tanh(c0h0[:, 2:]) - h_prev)
    s1 = highway(s0, w01, lambda v: np.maximum(v, 0))
    s2 = (highway(s0, w02, sigmoid) + highway(s1, w12, sigmoid)) / 2
    out = cell(torch.tensor(x[None], dtype=torch.float32), torch.tensor(h_prev, dtype=torch.float32))
    assert out.shape == (1, 1, 2)
    np.testing.assert_allclose(out[0].detach().numpy(), s2, rtol=1e-5, atol=1e-6)


def test_new_state_is_the_mean_of_the_leaves_and_carries_over_time():
    # leaves 1 (identity) and 2 (tanh); node 3 is unreachable and never built
    topo = Topology("rnn", ("sigmoid", "identity", "tanh", "relu"), ((0, 1), (0, 2)))
    cell = HighwayCell(topo, ninp=3, nhid=3)
    rng = np.random.default_rng(0)
    w0, w01, w02 = rng.normal(size=(6, 6)), rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    set_weights(cell, w0, {(0, 1): w01, (0, 2): w02})
    xs, h = rng.normal(size=(2, 4, 3)), np.zeros((4, 3))
    expected = []
    for x in xs:  # two time steps, the new state feeding the next
        c0h0 = np.concatenate([x, h], 1) @ w0
        s0 = h + sigmoid(c0h0[:, :3]) * (sigmoid(c0h0[:, 3:]) - h)
        h = (highway(s0, w01, lambda v: v) + highway(s0, w02, np.tanh)) / 2
        expected.append(h)
    out = cell(torch.tensor(xs, dtype=torch.float32), torch.zeros(4, 3))
    np.testing.assert_allclose(out.detach().numpy(), np.stack(expected), rtol=1e-5, atol=1e-6)


def test_only_nodes_reachable_from_node_zero_are_built():
    topo = Topology("rnn", ("tanh", "relu", "tanh", "sigmoid"), ((0, 1), (2, 3)))
    cell = HighwayCell(topo, ninp=4, nhid=4)
    assert cell.leaves == [1]
    assert list(cell.w_out.keys()) == ["0"]
    assert cell.macs_per_step() == 8 * 8 + 1 * 4 * 8


def test_a_cell_without_edges_is_the_node_zero_highway():
    cell = HighwayCell(Topology("rnn", ("identity", "relu"), ()), ninp=2, nhid=2)
    with torch.no_grad():
        cell.w0.zero_()  # c0 = h0 = 0: s0 = h_prev + 0.5 * (0 - h_prev)
    out = cell(torch.ones(1, 1, 2), torch.tensor([[2.0, -4.0]]))
    np.testing.assert_allclose(out[0].detach().numpy(), [[1.0, -2.0]])


def test_published_shrinkrnn_has_about_23_million_parameters():
    counts = count_language_model(SHRINKRNN, hidden=745, vocab_size=10_000)
    assert counts.edges == 12
    assert abs(counts.params - 23e6) / 23e6 < 0.03
    # tied embedding 10000 x 745 once, decoder bias, W0 (2*745 x 2*745), 12 edges of 745 x 1490
    assert counts.params == 10_000 * 745 + 10_000 + 1490 * 1490 + 12 * 745 * 1490


def test_language_model_ties_decoder_to_embedding_and_counts_match():
    topo = Topology.complete("rnn", ("tanh", "relu", "sigmoid"))
    model = LanguageModel(topo, vocab_size=30, hidden=8)
    assert sum(p.numel() for p in model.parameters()) == count_language_model(topo, 8, 30).params
    tokens = torch.randint(0, 30, (5, 3))
    out = model(tokens, model.init_hidden(3))
    assert out.logits.shape == (15, 30) and out.hidden.shape == (3, 8)
    loss = torch.nn.functional.cross_entropy(out.logits, tokens.reshape(-1))
    loss.backward()
    assert model.embedding.weight.grad is not None and model.cell.w0.grad is not None


def test_dropout_acts_only_in_training_mode():
    topo = Topology.complete("rnn", ("tanh", "relu", "sigmoid"))
    torch.manual_seed(0)
    plain = LanguageModel(topo, 20, 6)
    dropped = LanguageModel(topo, 20, 6, Dropouts(output=0.5, x=0.5, h=0.5, input=0.5, embedding=0.5))
    dropped.load_state_dict(plain.state_dict())
    tokens = torch.randint(0, 20, (4, 2))
    plain.eval(), dropped.eval()
    torch.testing.assert_close(dropped(tokens, dropped.init_hidden(2)).logits, plain(tokens, plain.init_hidden(2)).logits)
    dropped.train()
    assert not torch.allclose(dropped(tokens, dropped.init_hidden(2)).logits, plain(tokens, plain.init_hidden(2)).logits)


def test_cnn_topology_is_refused():
    with pytest.raises(BadInputError):
        HighwayCell(Topology.complete("cnn", ("input", "conv1x1")), 2, 2)
