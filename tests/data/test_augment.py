import pytest
import torch

from shrinknas.data.augment import random_crop_flip


def _batch(n=32, c=3, h=8, w=8):
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w) + 1


def _generator(seed):
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def test_shape_and_dtype_are_kept():
    x = _batch()
    out = random_crop_flip(x, pad=2, generator=_generator(0))
    assert out.shape == x.shape and out.dtype == x.dtype


def test_same_generator_state_same_result_other_seed_other_result():
    x = _batch()
    a = random_crop_flip(x, 4, _generator(1))
    b = random_crop_flip(x, 4, _generator(1))
    c = random_crop_flip(x, 4, _generator(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_without_padding_images_are_flipped_or_kept_and_both_happen():
    x = _batch(n=64)
    out = random_crop_flip(x, pad=0, generator=_generator(0))
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    assert all(k or f for k, f in zip(kept, flipped))
    assert any(kept) and any(flipped)


def test_every_output_is_a_crop_of_the_zero_padded_image_possibly_flipped():
    x, pad = _batch(n=16), 2
    out = random_crop_flip(x, pad, _generator(3))
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    offsets_seen = set()
    for o, p in zip(out, padded):
        matches = [
            (dy, dx, flip)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for flip in (False, True)
            if torch.equal(o, (lambda crop: crop.flip(-1) if flip else crop)(p[:, dy : dy + 8, dx : dx + 8]))
        ]
        assert matches, "output is not a crop of the padded image"
        offsets_seen.add(matches[0][:2])
    assert len(offsets_seen) > 1


def test_non_batches_and_negative_pad_are_refused():
    with pytest.raises(ValueError):
        random_crop_flip(torch.zeros(3, 8, 8), 1, _generator(0))
    with pytest.raises(ValueError):
        random_crop_flip(torch.zeros(1, 3, 8, 8), -1, _generator(0))
