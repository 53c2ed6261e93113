"""Architecture Compression at toy scale, every stage real: sample, train, embed, descend, retrain, prune."""

import functools

import torch

from shrinknas.config import ImageTask
from shrinknas.data.images import proxy_data
from shrinknas.genome import genome_from_dict
from shrinknas.genome.layer_seq import conv_stack
from shrinknas.methods.compress.descent import compress
from shrinknas.methods.compress.embedding import train_embedding
from shrinknas.methods.compress.pruning import prune_to_params
from shrinknas.methods.compress.sampler import (Footprint, SamplerSpace, random_architecture, sample_architectures,
                                                teacher_variant)
from shrinknas.nets.autoencoder import AutoencoderShape
from shrinknas.nets.sequential import build_sequential
from shrinknas.train.embedding import EmbeddingTraining
from shrinknas.train.sequential import dataset_trial, final_recipe, train_sequential


def test_a_teacher_compresses_to_a_smaller_valid_network_that_trains():
    data = proxy_data(ImageTask(dataset="digits", proxy_train=500, proxy_val=200))
    teacher = conv_stack((32, 32, 64), (1, 2, 1), (1, 8, 8), 10)
    space = SamplerSpace(length=(2, 10), kernel=(1, 3), stride=(1, 2), out=(4, 32), padding=(0, 1),
                         footprint=Footprint(max_params=50_000))
    genomes = sample_architectures(20, 0, functools.partial(random_architecture, input=(1, 8, 8), classes=10,
                                                            space=space))
    genomes += sample_architectures(10, 1, functools.partial(teacher_variant, teacher=teacher))
    accuracies = [dataset_trial(g, data, epochs=1, seed=0)["val_acc"] for g in genomes]
    assert all(0.0 <= a <= 1.0 for a in accuracies) and max(accuracies) > 0.3

    settings = EmbeddingTraining(epochs=40, optimizer="adam", lr=3e-3, lr_decay_every=None, batch_size=8)
    embedding, history = train_embedding(genomes, accuracies, settings,
                                         AutoencoderShape(seq_len=16, channels=16, stages=2, hidden=32),
                                         extra=[teacher])
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert "holdout_kendall_tau" in history[-1]

    target = teacher.params() // 4
    result = compress(embedding, teacher, steps=40, lr=0.5, params_target=target)
    assert result.candidates, "the descent found no valid network smaller than the teacher"
    best = result.candidates[0].genome
    assert best.params() < teacher.params()
    assert genome_from_dict(best.to_dict()) == best  # a plain genome, ready for a file
    trained = train_sequential(best, data, final_recipe(1), seed=0)
    assert trained.params == best.params() and 0.0 <= trained.val_acc <= 1.0

    torch.manual_seed(0)
    pruned = prune_to_params(build_sequential(teacher), teacher, target)
    assert pruned.params() <= target
