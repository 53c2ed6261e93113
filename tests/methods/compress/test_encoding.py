"""Rows to normalised codes and back: exact for every architecture the scales cover."""

import functools

import torch

from shrinknas.genome.layer_seq import TYPES, conv7
from shrinknas.methods.compress.encoding import OUT, TYPE, SequenceEncoding
from shrinknas.methods.compress.sampler import SamplerSpace, random_architecture, sample_architectures


def test_codes_decode_to_the_same_rows():
    draw = functools.partial(random_architecture, input=(1, 28, 28), classes=10, space=SamplerSpace())
    genomes = sample_architectures(40, 0, draw) + [conv7()]
    encoding = SequenceEncoding.covering(genomes)
    assert encoding.max_layers % 8 == 0 and encoding.max_layers >= max(len(g.layers) for g in genomes)
    x, mask = encoding.batch(genomes)
    assert x.shape == mask.shape == (41, 5, encoding.max_layers)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    for genome, code in zip(genomes, x):
        assert encoding.decode(code) == genome.rows()
    # small errors of a decoder still round to the same rows
    assert encoding.decode(x[-1] + 0.2 / 4096) == conv7().rows()


def test_pad_rows_end_the_sequence_and_only_their_type_is_masked_in():
    genome = conv7()
    encoding = SequenceEncoding(max_layers=32, kernel_max=3, stride_max=2, padding_max=1, width_max=256)
    code, mask = encoding.encode(genome), encoding.mask(len(genome.layers))
    n = len(genome.layers)
    assert torch.all(code[:, n:] == 0)
    assert torch.all(mask[:, :n] == 1) and torch.all(mask[TYPE, n:] == 1) and torch.all(mask[1:, n:] == 0)
    assert code[TYPE, 0] == 1 / len(TYPES) and code[TYPE, n - 1] == 1.0  # conv first, linear last
    assert abs(float(code[OUT, n - 2]) - 1.0) < 1e-6  # the last relu's width 256 is the scale's largest


def test_a_width_of_one_is_not_an_absent_field():
    encoding = SequenceEncoding(max_layers=8, width_max=64)
    code = encoding.encode_rows([(1, 3, 1, 1, 1), (8, 0, 10, 0, 0)])
    assert code[OUT, 0] > 0 and encoding.decode(code)[0] == (1, 3, 1, 1, 1)
