"""npz:FILE datasets: archives the tests write with numpy.savez."""

import numpy as np
import pytest

from shrinknas.config import ImageTask
from shrinknas.data.images import load_image_dataset, proxy_data
from shrinknas.data.splits import HELD_OUT_EVERY
from shrinknas.errors import BadInputError, DatasetMissingError


def _arrays(n=30, n_classes=3, shape=(2, 5, 4), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, *shape)).astype(dtype)
    return x, np.arange(n) % n_classes


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_nchw_uint8_with_a_test_part_and_class_names_round_trips(tmp_path):
    x, y = _arrays()
    x_test, y_test = _arrays(n=6, seed=1)
    names = np.array(["ant", "bee", "cow"])
    path = _save(tmp_path / "d.npz", x=x, y=y, x_test=x_test, y_test=y_test, class_names=names)
    data = load_image_dataset(f"npz:{path}")
    np.testing.assert_array_equal(data.train_x, x)
    np.testing.assert_array_equal(data.test_x, x_test)
    assert data.train_y.dtype == np.int64 and data.train_y.tolist() == y.tolist()
    assert data.class_names == ("ant", "bee", "cow") and data.n_classes == 3 and data.image_shape == (2, 5, 4)


def test_nhw_floats_without_a_test_part_hold_one_out_per_class(tmp_path):
    x, y = _arrays(shape=(5, 4), dtype=np.float64)
    data = load_image_dataset(f"npz:{_save(tmp_path / 'd.npz', x=x / 255, y=y)}")
    assert data.image_shape == (1, 5, 4) and data.train_x.dtype == np.float32
    assert np.bincount(data.test_y).tolist() == [10 // HELD_OUT_EVERY] * 3
    assert data.class_names == ("0", "1", "2")
    # the held-out images are the file's own, unscaled
    whole = np.concatenate([data.train_x, data.test_x])[:, 0]
    assert sorted(map(float, whole.sum(axis=(1, 2)))) == pytest.approx(sorted((x / 255).sum(axis=(1, 2))), rel=1e-5)


def test_an_npz_dataset_gives_normalised_balanced_proxy_splits(tmp_path):
    x, y = _arrays(n=60)
    data = proxy_data(ImageTask(dataset=f"npz:{_save(tmp_path / 'd.npz', x=x, y=y)}", proxy_train=15, proxy_val=12))
    assert data.train_x.shape == (15, 2, 5, 4) and data.val_x.shape == (12, 2, 5, 4)
    assert data.class_names == ("0", "1", "2")
    assert np.bincount(data.val_y.numpy()).tolist() == [4, 4, 4]
    assert abs(float(data.train_x.mean())) < 1e-4


@pytest.mark.parametrize("arrays, match", [
    (lambda x, y: {"x": x, "y": y[:-1]}, "y has 29 labels for 30 images"),
    (lambda x, y: {"x": x, "y": y, "class_names": np.array(["a", "b"])}, r"label 2 in y is outside 0..1"),
    (lambda x, y: {"x": x, "y": y - 1}, "negative label -1"),
    (lambda x, y: {"x": x[:, None], "y": y}, "5-D array"),
    (lambda x, y: {"x": x, "y": y.astype(float)}, "one integer label per image"),
    (lambda x, y: {"x": np.zeros((30, 8, 8, 3), np.uint8), "y": y}, "looks channels-last"),
    (lambda x, y: {"x": x, "labels": y}, "lacks array y"),
    (lambda x, y: {"x": x, "y": y, "x_val": x}, "holds array 'x_val', which is not read"),
    (lambda x, y: {"x": x, "y": y, "x_test": x}, "only one of x_test and y_test"),
    (lambda x, y: {"x": x, "y": y, "x_test": x[:, :1], "y_test": y}, "x_test images are"),
    (lambda x, y: {"x": x.astype(np.int16) * 2, "y": y}, "outside 0..255"),
    (lambda x, y: {"x": x / 255 * np.nan, "y": y}, "NaN"),
    (lambda x, y: {"x": x, "y": y, "class_names": np.array(["a", "a", "b"])}, "repeats a name"),
    (lambda x, y: {"x": x, "y": y, "class_names": np.array([1, 2, 3])}, "1-D array of strings"),
    (lambda x, y: {"x": x[:4], "y": y[:4]}, "too few images to hold out a test part"),
])
def test_bad_arrays_are_one_line_errors(tmp_path, arrays, match):
    path = _save(tmp_path / "d.npz", **arrays(*_arrays()))
    with pytest.raises(DatasetMissingError, match=match) as info:
        load_image_dataset(f"npz:{path}")
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    x, y = _arrays()
    path = _save(tmp_path / "d.npz", x=x, y=y, class_names=np.array(["ant", 2, None], dtype=object))
    with pytest.raises(DatasetMissingError, match="holds Python objects"):
        load_image_dataset(f"npz:{path}")


def test_files_that_are_not_npz_archives_are_one_line_errors(tmp_path):
    with pytest.raises(DatasetMissingError, match="does not exist"):
        load_image_dataset(f"npz:{tmp_path / 'absent.npz'}")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DatasetMissingError, match="holds one array"):
        load_image_dataset(f"npz:{tmp_path / 'one.npy'}")
    (tmp_path / "text.npz").write_text("not numpy")
    with pytest.raises(DatasetMissingError, match="not an .npz archive"):
        load_image_dataset(f"npz:{tmp_path / 'text.npz'}")
    with pytest.raises(BadInputError, match="npz needs its location"):
        load_image_dataset("npz:")
