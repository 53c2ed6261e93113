"""COMPRESS: steps that lower L_c, a decode at every step, distinct valid smaller networks ranked on re-encoding."""

import functools
import random

import pytest
import torch
import torch.nn.functional as F

from shrinknas.errors import BadInputError
from shrinknas.genome.layer_seq import conv_stack
from shrinknas.methods.compress.descent import compress, rank
from shrinknas.methods.compress.embedding import train_embedding
from shrinknas.methods.compress.sampler import (SamplerSpace, random_architecture, sample_architectures,
                                                teacher_variant)
from shrinknas.nets.autoencoder import AutoencoderShape
from shrinknas.train.embedding import EmbeddingTraining

TEACHER = conv_stack((64, 64, 64), (1, 2, 1), (1, 8, 8), 10)


@pytest.fixture(scope="module")
def embedding():
    space = SamplerSpace(length=(2, 10), kernel=(1, 3), stride=(1, 2), out=(4, 32), padding=(0, 1))
    genomes = sample_architectures(30, 0, functools.partial(random_architecture, input=(1, 8, 8), classes=10,
                                                            space=space))
    genomes += sample_architectures(20, 1, functools.partial(teacher_variant, teacher=TEACHER))
    rng = random.Random(0)
    accuracies = [min(0.95, 0.2 + g.params() / 20_000 + rng.uniform(0, 0.1)) for g in genomes]
    settings = EmbeddingTraining(epochs=40, optimizer="adam", lr=3e-3, lr_decay_every=None, batch_size=8)
    trained, _ = train_embedding(genomes, accuracies, settings, AutoencoderShape(seq_len=16, channels=16, stages=2,
                                                                                 hidden=32), extra=[TEACHER])
    return trained


def _objective_at_teacher(embedding, a0, p0, lam):
    model = embedding.model
    with torch.no_grad():
        accuracy, params = model.predict(model.encode(embedding.encoding.encode(TEACHER)[None]))
    return float((accuracy - a0).abs() + lam * F.huber_loss(params, torch.full_like(params, p0), reduction="none"))


def test_small_steps_lower_the_objective_of_eq_17(embedding):
    result = compress(embedding, TEACHER, steps=5, lr=1e-3, lam=1.0, acc_target=0.9, params_target=5000)
    assert len(result.path) == 6 and [s.step for s in result.path] == list(range(6))
    p0 = embedding.scale.standardise(5000)
    assert result.path[0].objective == pytest.approx(_objective_at_teacher(embedding, 0.9, p0, 1.0), rel=1e-5)
    objectives = [s.objective for s in result.path]
    assert all(b < a for a, b in zip(objectives, objectives[1:]))  # descent, not the paper's ascent


def test_without_targets_the_objective_is_eq_16(embedding):
    result = compress(embedding, TEACHER, steps=0)
    assert result.path[0].objective == pytest.approx(_objective_at_teacher(embedding, 1.0, 0.0, 1.0), rel=1e-5)


def test_candidates_are_distinct_valid_smaller_and_ranked_on_their_re_encoding(embedding):
    result = compress(embedding, TEACHER, steps=40, lr=0.5, lam=1.0, params_target=5000)
    assert result.teacher_params == TEACHER.params()
    candidates = result.candidates
    assert candidates, "a large teacher over a dataset of small networks decodes to smaller ones"
    assert len({c.genome.key() for c in candidates}) == len(candidates)
    decoded = {s.decoded_key for s in result.path if s.decoded_key is not None}
    for c in candidates:
        assert c.params == c.genome.params() < TEACHER.params()
        assert c.genome.key() in decoded and result.path[c.step].decoded_key == c.genome.key()
        assert c.genome.input == TEACHER.input and c.genome.layers[-1].out == 10
    assert [c.score for c in candidates] == sorted(c.score for c in candidates)
    again = rank(embedding, [c.genome for c in reversed(candidates)], 1.0, 5000, 1.0)
    assert [c.genome for c in again] == [c.genome for c in candidates]
    assert [c.score for c in again] == pytest.approx([c.score for c in candidates], rel=1e-5)


def test_bad_descent_settings_are_refused(embedding):
    with pytest.raises(BadInputError, match="step size"):
        compress(embedding, TEACHER, steps=3, lr=0.0)
