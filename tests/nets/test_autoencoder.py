"""The architecture autoencoder: shapes of the paper's parts and the losses of eqs. 12-15."""

import pytest
import torch

from shrinknas.nets.autoencoder import (ArchAutoencoder, AutoencoderShape, ResidualBlock, accuracy_loss,
                                        autoencoder_losses, params_loss, reconstruction_loss)


def test_parts_have_the_papers_shapes():
    torch.manual_seed(0)
    shape = AutoencoderShape(seq_len=32, channels=16, stages=2, hidden=32)
    model = ArchAutoencoder(shape)
    x = torch.rand(3, 5, 32)
    out = model(x)
    assert out.embedding.shape == (3, 16 * 8) == (3, shape.embedding_dim)
    assert out.reconstruction.shape == x.shape
    assert out.accuracy.shape == out.params.shape == (3,)
    assert torch.all((out.accuracy > 0) & (out.accuracy < 1))
    assert torch.equal(model.decode(out.embedding), out.reconstruction)
    linears = [m for m in model.accuracy_head if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4 and isinstance(model.accuracy_head[-1], torch.nn.Sigmoid)
    assert isinstance(model.params_head[-1], torch.nn.Identity)  # a standardised count is signed


def test_a_standardised_count_below_the_mean_can_be_reached():
    torch.manual_seed(0)
    model = ArchAutoencoder(AutoencoderShape(seq_len=8, channels=8, stages=1, hidden=16))
    optimizer = torch.optim.Adam(model.params_head.parameters(), lr=3e-2)
    y = torch.randn(4, model.shape.embedding_dim)
    for _ in range(100):
        optimizer.zero_grad()
        loss = params_loss(model.params_head(y).squeeze(1), torch.full((4,), -1.5))
        loss.backward()
        optimizer.step()
    assert torch.allclose(model.params_head(y).squeeze(1), torch.full((4,), -1.5), atol=0.05)


def test_residual_blocks_halve_and_double_the_sequence():
    x = torch.randn(2, 8, 16)
    assert ResidualBlock(8, 8, 3, stride=2)(x).shape == (2, 8, 8)
    assert ResidualBlock(8, 8, 3, stride=2, transposed=True)(x).shape == (2, 8, 32)
    assert ResidualBlock(5, 8, 3)(torch.randn(2, 5, 16)).shape == (2, 8, 16)
    assert isinstance(ResidualBlock(8, 8, 3).shortcut, torch.nn.Identity)


def test_the_sequence_must_fit_the_stages():
    with pytest.raises(ValueError, match="divisible"):
        AutoencoderShape(seq_len=20, stages=3)


def test_losses_are_masked_mse_l1_and_huber():
    target = torch.zeros(1, 5, 4)
    mask = torch.zeros(1, 5, 4)
    mask[0, :, :2] = 1
    rec = torch.zeros(1, 5, 4)
    rec[0, 0, 0] = 1.0
    rec[0, 1, 3] = 100.0  # masked out: no effect
    assert reconstruction_loss(rec, target, mask).item() == pytest.approx(1 / 10)
    assert accuracy_loss(torch.tensor([0.5, 0.9]), torch.tensor([0.7, 0.8])).item() == pytest.approx(0.15)
    assert params_loss(torch.tensor([0.5]), torch.tensor([0.0])).item() == pytest.approx(0.125)
    assert params_loss(torch.tensor([3.0]), torch.tensor([0.0])).item() == pytest.approx(2.5)
    model = ArchAutoencoder(AutoencoderShape(seq_len=8, channels=8, stages=1, hidden=16))
    out = model(torch.rand(2, 5, 8))
    terms = autoencoder_losses(out, torch.rand(2, 5, 8), torch.ones(2, 5, 8), torch.tensor([0.3, 0.6]),
                               torch.tensor([-1.0, 2.0]), lam1=2.0, lam2=0.5)
    expected = terms["reconstruction"] + 2.0 * terms["accuracy"] + 0.5 * terms["params"]
    assert terms["loss"].item() == pytest.approx(expected.item())
