"""The dataset phase's architectures: the paper's sampler keeps only buildable, non-degenerate networks."""

import functools
import random

import pytest
from pydantic import ValidationError

from shrinknas.errors import BadInputError
from shrinknas.genome.layer_seq import FIELDS, conv7, conv_stack
from shrinknas.methods.compress.sampler import (Footprint, SamplerSpace, TeacherSpace, acceptance_rate,
                                                random_architecture, sample_architectures, teacher_variant)

SMALL = SamplerSpace(length=(2, 8), kernel=(1, 3), stride=(1, 2), out=(4, 16), padding=(0, 1))


def test_the_papers_ranges_are_the_default():
    space = SamplerSpace()
    assert (space.length, space.kernel, space.stride, space.out, space.padding) == (
        (2, 50), (1, 10), (1, 10), (16, 4096), (1, 10))


def test_paper_draws_are_valid_non_degenerate_and_inside_the_ranges():
    rng = random.Random(0)
    space = SamplerSpace(footprint=Footprint(max_params=2_000_000, max_macs=100_000_000))
    for _ in range(30):
        genome = random_architecture(rng, (1, 28, 28), 10, space)
        assert 2 <= len(genome.layers) <= 50
        assert any(layer.type == "conv" for layer in genome.layers)
        assert genome.layers[-1].type == "linear" and genome.layers[-1].out == 10
        assert genome.params() <= 2_000_000 and genome.macs() <= 100_000_000
        for layer in genome.layers[:-1]:
            fields = FIELDS[layer.type]
            assert ("kernel" not in fields or 1 <= layer.kernel <= 10) and ("stride" not in fields or
                                                                           1 <= layer.stride <= 10)
            assert "out" not in fields or 16 <= layer.out <= 4096
            assert "padding" not in fields or layer.padding <= 10


def test_the_same_seed_gives_the_same_distinct_architectures():
    draw = functools.partial(random_architecture, input=(1, 8, 8), classes=10, space=SMALL)
    first = sample_architectures(20, 3, draw)
    assert first == sample_architectures(20, 3, draw)
    assert len({g.key() for g in first}) == 20
    assert first != sample_architectures(20, 4, draw)


def test_rejection_removes_degenerate_draws():
    rng = random.Random(0)
    assert 0 < acceptance_rate(rng, (1, 8, 8), 10, SMALL, 300) < 1
    tiny = Footprint(max_params=1)
    with pytest.raises(BadInputError, match="no valid architecture in 50 draws"):
        random_architecture(rng, (1, 8, 8), 10, SMALL.model_copy(update={"footprint": tiny, "max_tries": 50}))


def test_a_bad_range_is_refused():
    with pytest.raises(ValidationError, match="kernel range"):
        SamplerSpace(kernel=(3, 1))
    with pytest.raises(ValidationError):
        SamplerSpace(width=(1, 2))


def test_teacher_variants_remove_blocks_and_narrow_widths():
    teacher = conv7()
    rng = random.Random(1)
    variants = [teacher_variant(rng, teacher, TeacherSpace(remove_prob=0.3, min_width_fraction=0.25))
                for _ in range(20)]
    for v in variants:
        convs = [layer for layer in v.layers if layer.type == "conv"]
        assert 1 <= len(convs) <= 7 and v.layers[-1] == teacher.layers[-1]
        assert all(1 <= c.out <= 256 for c in convs)
        assert v.input == teacher.input and v.classes == teacher.classes
    assert any(sum(layer.type == "conv" for layer in v.layers) < 7 for v in variants)
    assert any(v.params() < teacher.params() / 4 for v in variants)
    assert len({v.key() for v in variants}) == len(variants)


def test_a_teacher_variant_keeps_whole_blocks():
    teacher = conv_stack((8, 8, 8), (1, 1, 1), (1, 8, 8), 10)
    variant = teacher_variant(random.Random(0), teacher, TeacherSpace(remove_prob=0.5, min_width_fraction=1.0))
    types = [layer.type for layer in variant.layers]
    assert types == ["conv", "bn", "relu"] * (len(types) // 3) + ["linear"]
