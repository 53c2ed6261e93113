"""Training the embedding: it learns, reports on held-out architectures, and resumes bit for bit."""

import functools
import io
import random

import pytest
import torch

from shrinknas.errors import BadInputError
from shrinknas.methods.compress.embedding import TrainedEmbedding, embedding_trainer, trained
from shrinknas.methods.compress.sampler import SamplerSpace, random_architecture, sample_architectures
from shrinknas.nets.autoencoder import AutoencoderShape
from shrinknas.train.embedding import EmbeddingTraining, ParamsScale, kendall_tau

SPACE = SamplerSpace(length=(2, 8), kernel=(1, 3), stride=(1, 2), out=(4, 32), padding=(0, 1))
SHAPE = AutoencoderShape(seq_len=8, channels=16, stages=1, hidden=32)
FAST = EmbeddingTraining(epochs=4, optimizer="adam", lr=3e-3, lr_decay_every=2, batch_size=8, seed=5)


@pytest.fixture(scope="module")
def dataset():
    genomes = sample_architectures(30, 0, functools.partial(random_architecture, input=(1, 8, 8), classes=10,
                                                            space=SPACE))
    rng = random.Random(0)
    return genomes, [rng.uniform(0.1, 0.9) for _ in genomes]


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_a_checkpointed_training_resumes_bit_for_bit(dataset):
    genomes, accuracies = dataset
    straight = embedding_trainer(genomes, accuracies, FAST, SHAPE)
    straight.fit()
    first = embedding_trainer(genomes, accuracies, FAST, SHAPE)
    first.train_epoch()
    first.train_epoch()  # past the lr decay at 2
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = embedding_trainer(genomes, accuracies, FAST, SHAPE)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    torch.manual_seed(123)  # global random state plays no part
    resumed.fit()
    assert resumed.epoch == straight.epoch == 4
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history == straight.history


def test_the_held_out_report_and_learning(dataset):
    genomes, accuracies = dataset
    settings = FAST.model_copy(update={"epochs": 40, "lr_decay_every": None})
    trainer = embedding_trainer(genomes, accuracies, settings, SHAPE)
    assert len(trainer.holdout_idx) == 3 and not set(trainer.holdout_idx) & set(trainer.train_idx)
    history = trainer.fit()
    assert [entry["epoch"] for entry in history] == list(range(1, 41))
    last = history[-1]
    for key in ("holdout_exact_match", "holdout_kendall_tau", "holdout_params_rel_error", "train_loss",
                "train_reconstruction", "train_accuracy", "train_params"):
        assert key in last
    assert 0 <= last["holdout_exact_match"] <= 1
    assert last["train_reconstruction"] < history[0]["train_reconstruction"] / 3
    on_train = trainer.evaluate(trainer.train_idx)
    assert on_train["reconstruction"] < history[0]["train_reconstruction"] / 3
    assert trainer.evaluate()["exact_match"] == last["holdout_exact_match"]


def test_a_trained_embedding_round_trips_through_a_file(dataset, tmp_path):
    genomes, accuracies = dataset
    trainer = embedding_trainer(genomes, accuracies, FAST.model_copy(update={"epochs": 1}), SHAPE)
    trainer.fit()
    embedding = trained(trainer)
    torch.save(embedding.state_dict(), tmp_path / "embedding.pt")
    loaded = TrainedEmbedding.from_state(torch.load(tmp_path / "embedding.pt", weights_only=True))
    x, _ = loaded.encoding.batch(genomes[:3])
    assert torch.equal(loaded.model.encode(x), embedding.model.encode(x))
    assert loaded.scale == embedding.scale and loaded.encoding == embedding.encoding


def test_params_scale_standardises_and_inverts():
    for log in (False, True):
        scale = ParamsScale.fit([100, 1000, 10_000], log)
        values = [scale.standardise(p) for p in (100, 1000, 10_000)]
        assert abs(sum(values)) < 1e-9
        assert scale.count(scale.standardise(4321)) == pytest.approx(4321)


def test_kendall_tau_orders():
    assert kendall_tau([0.1, 0.2, 0.3], [1, 2, 3]) == pytest.approx(1.0)
    assert kendall_tau([0.3, 0.2, 0.1], [1, 2, 3]) == pytest.approx(-1.0)
    assert kendall_tau([0.5, 0.5], [0.5, 0.5]) is None and kendall_tau([0.1], [0.2]) is None


def test_bad_training_data_is_refused(dataset):
    genomes, _ = dataset
    with pytest.raises(BadInputError, match="at least 2"):
        embedding_trainer(genomes[:1], [0.5], FAST, SHAPE)
    with pytest.raises(BadInputError, match="in \\[0, 1\\]"):
        embedding_trainer(genomes[:2], [0.5, 1.5], FAST, SHAPE)
