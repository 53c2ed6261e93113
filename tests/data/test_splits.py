import numpy as np
import pytest

from shrinknas.data.splits import balanced_split, per_class_counts, two_way_split


from shrinknas.data.splits import (
    PAPER_PROXY, balanced_split, held_out_split, largest_balanced_proxy, per_class_counts,
)
from shrinknas.errors import BadInputError


def _labels(per_class=(50,) * 10, seed=0):
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(per_class)])
    return np.random.default_rng(seed).permutation(labels)


def test_totals_are_exact_and_spread_evenly_with_remainder_to_lowest_classes():
    labels = _labels()
    train, val = balanced_split(labels, n_train=23, n_val=17, seed=0)
    assert len(train) == 23 and len(val) == 17
    np.testing.assert_array_equal(np.bincount(labels[train], minlength=10), [3, 3, 3] + [2] * 7)
    np.testing.assert_array_equal(np.bincount(labels[val], minlength=10), [2] * 7 + [1] * 3)


def test_per_class_counts():
    np.testing.assert_array_equal(per_class_counts(5000, 10), [500] * 10)
    np.testing.assert_array_equal(per_class_counts(7, 3), [3, 2, 2])
    assert per_class_counts(0, 4).sum() == 0


def test_uneven_classes_still_give_balanced_splits():
    labels = _labels(per_class=(12, 40, 9, 30))
    train, val = balanced_split(labels, n_train=20, n_val=8, seed=5)
    assert np.bincount(labels[train]).tolist() == [5, 5, 5, 5]
    assert np.bincount(labels[val]).tolist() == [2, 2, 2, 2]


def test_indices_are_disjoint_unique_sorted_and_in_range():
    labels = _labels()
    train, val = balanced_split(labels, 300, 100, seed=1)
    assert train.dtype == np.int64 and val.dtype == np.int64
    assert len(np.unique(train)) == 300 and len(np.unique(val)) == 100
    assert not set(train) & set(val)
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert train.max() < len(labels) and val.min() >= 0


def test_the_whole_class_can_be_used():
    labels = _labels(per_class=(6, 6))
    train, val = balanced_split(labels, 8, 4, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(12))


def test_same_seed_same_split_other_seed_other_split():
    labels = _labels()
    first = balanced_split(labels, 100, 50, seed=7)
    again = balanced_split(labels, 100, 50, seed=7)
    other = balanced_split(labels, 100, 50, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[1], other[1])


def test_too_few_images_in_a_class_says_how_many_and_what_to_do():
    labels = _labels(per_class=(50, 5, 50))
    with pytest.raises(BadInputError, match="only 5 images of class 1.* needs 10 per class; lower the proxy size"):
        balanced_split(labels, n_train=15, n_val=15, seed=0)


def test_negative_sizes_are_bad_input():
    with pytest.raises(BadInputError, match="negative"):
        balanced_split(_labels(), -1, 10, seed=0)


@pytest.mark.parametrize("ratio", [(1, 1), (4, 1)])
def test_a_two_way_split_covers_every_image_once_in_ratio_per_class(ratio):
    labels = _labels(per_class=(50, 40, 30))
    first, second = two_way_split(labels, ratio, seed=3)
    assert len(np.intersect1d(first, second)) == 0 and len(first) + len(second) == len(labels)
    share = ratio[0] / sum(ratio)
    for c, n in enumerate((50, 40, 30)):
        assert (labels[first] == c).sum() == round(n * share)
    assert (np.diff(first) > 0).all() and (np.diff(second) > 0).all()
    again = two_way_split(labels, ratio, seed=3)
    assert np.array_equal(again[0], first) and not np.array_equal(two_way_split(labels, ratio, seed=4)[0], first)


def test_a_two_way_split_that_leaves_a_part_empty_is_refused():
    with pytest.raises(BadInputError, match="leaves one part empty"):
        two_way_split(np.array([0, 1]), (4, 1), seed=0)


def test_largest_balanced_proxy_keeps_a_split_that_fits():
    assert largest_balanced_proxy(_labels(per_class=(600,) * 10)) == PAPER_PROXY
    assert largest_balanced_proxy(_labels(per_class=(7, 9)), 10, 4) == (10, 4)


def test_largest_balanced_proxy_shrinks_to_the_smallest_class_at_the_same_ratio():
    labels = _labels(per_class=(1000,) * 9 + (140,))  # like digits' class 8
    n_train, n_val = largest_balanced_proxy(labels)
    assert (n_train, n_val) == (1150, 230) and n_train == 5 * n_val
    train, val = balanced_split(labels, n_train, n_val, seed=0)  # it fits
    assert np.bincount(labels[train]).tolist() == [115] * 10 and np.bincount(labels[val]).tolist() == [23] * 10
    with pytest.raises(BadInputError):  # the next 5:1 size does not
        balanced_split(labels, n_train + 50, n_val + 10, seed=0)


def test_largest_balanced_proxy_refuses_classes_too_small_for_ten_validation_images():
    assert largest_balanced_proxy(_labels(per_class=(30, 40))) == (50, 10)
    with pytest.raises(BadInputError, match="only 29 images of class 1.*10 validation images \\(30 per class\\)"):
        largest_balanced_proxy(_labels(per_class=(30, 29)))


def test_held_out_split_takes_a_seeded_fifth_of_every_class():
    labels = _labels(per_class=(10, 25, 4))
    train, test = held_out_split(labels)
    assert np.bincount(labels[test], minlength=3).tolist() == [2, 5, 0]
    assert np.array_equal(np.union1d(train, test), np.arange(len(labels))) and not np.intersect1d(train, test).size
    again, other = held_out_split(labels), held_out_split(labels, seed=1)
    assert np.array_equal(again[1], test) and not np.array_equal(other[1], test)
