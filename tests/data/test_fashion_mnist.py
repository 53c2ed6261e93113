from pathlib import Path

import numpy as np
import pytest

from shrinknas.data.fashion_mnist import CLASS_NAMES, MINI_TEST_PER_CLASS, MINI_TRAIN_PER_CLASS, write_subset
from shrinknas.data.images import load_image_dataset
from shrinknas.errors import DatasetMissingError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_dir_round_trips(fashion_dir, gz):
    directory, arrays = fashion_dir(gz=gz)
    data = load_image_dataset(f"fashion-mnist:{directory}")
    assert data.name == f"fashion-mnist:{directory}"
    assert data.n_classes == 10
    assert data.train_x.shape == (20, 1, 28, 28) and data.test_x.shape == (10, 1, 28, 28)
    assert data.train_x.dtype == np.uint8 and data.train_y.dtype == np.int64 and data.test_y.dtype == np.int64
    np.testing.assert_array_equal(data.train_x[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.train_y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.test_x[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test_y, arrays["t10k-labels-idx1-ubyte"])


def test_loaded_arrays_are_read_only_because_they_are_shared(fashion_dir):
    directory, _ = fashion_dir()
    data = load_image_dataset(f"fashion-mnist:{directory}")
    with pytest.raises(ValueError):
        data.train_x[0, 0, 0, 0] = 1


def test_missing_file_names_the_debian_package(fashion_dir):
    directory, _ = fashion_dir()
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetMissingError, match="t10k-labels-idx1-ubyte") as info:
        load_image_dataset(f"fashion-mnist:{directory}")
    assert "dataset-fashion-mnist" in str(info.value) and "make datasets" in str(info.value)


def test_missing_directory_names_the_debian_package(tmp_path):
    with pytest.raises(DatasetMissingError, match="dataset-fashion-mnist"):
        load_image_dataset(f"fashion-mnist:{tmp_path / 'absent'}")


def test_label_out_of_range_is_reported(fashion_dir, write_idx):
    directory, _ = fashion_dir()
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.full(20, 10, dtype=np.uint8))
    with pytest.raises(DatasetMissingError, match="label 10 is outside 0..9"):
        load_image_dataset(f"fashion-mnist:{directory}")


def test_label_count_differing_from_image_count_is_reported(fashion_dir, write_idx):
    directory, _ = fashion_dir()
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DatasetMissingError, match="one label per image"):
        load_image_dataset(f"fashion-mnist:{directory}")


def test_images_of_the_wrong_rank_are_reported(fashion_dir, write_idx):
    directory, _ = fashion_dir()
    write_idx(directory / "train-images-idx3-ubyte.gz", np.zeros((20, 784), dtype=np.uint8))
    with pytest.raises(DatasetMissingError, match=r"uint8 images \(N, H, W\)"):
        load_image_dataset(f"fashion-mnist:{directory}")


def test_corrupt_file_is_reported_through_the_loader(fashion_dir):
    directory, _ = fashion_dir()
    path = directory / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetMissingError, match="train-images-idx3-ubyte.gz is not a complete gzip"):
        load_image_dataset(f"fashion-mnist:{directory}")


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_real_debian_fashion_mnist():
    data = load_image_dataset("fashion-mnist")
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.n_classes == 10
    np.testing.assert_array_equal(np.bincount(data.train_y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(data.test_y), np.full(10, 1000))
    assert load_image_dataset("fashion-mnist") is data


def test_the_shipped_subset_is_class_balanced_and_named():
    data = load_image_dataset("fashion-mnist-mini")
    assert data.train_x.shape == (6000, 1, 28, 28) and data.test_x.shape == (2000, 1, 28, 28)
    assert np.bincount(data.train_y).tolist() == [MINI_TRAIN_PER_CLASS] * 10
    assert np.bincount(data.test_y).tolist() == [MINI_TEST_PER_CLASS] * 10
    assert data.class_names == CLASS_NAMES


def test_write_subset_keeps_the_first_images_of_every_class(fashion_dir, tmp_path):
    directory, arrays = fashion_dir()
    write_subset(load_image_dataset(f"fashion-mnist:{directory}"), tmp_path / "mini", 1, 1)
    mini = load_image_dataset(f"fashion-mnist:{tmp_path / 'mini'}")
    assert mini.train_y.tolist() == list(range(10))  # the fixture's labels run 0..9 twice: the first run is kept
    np.testing.assert_array_equal(mini.train_x[:, 0], arrays["train-images-idx3-ubyte"][:10])
    test_labels = arrays["t10k-labels-idx1-ubyte"]
    first = sorted(int(np.flatnonzero(test_labels == c)[0]) for c in np.unique(test_labels))
    np.testing.assert_array_equal(mini.test_x[:, 0], arrays["t10k-images-idx3-ubyte"][first])


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="Debian package dataset-fashion-mnist is not installed")
def test_the_shipped_subset_is_cut_from_fashion_mnist_as_its_readme_says(tmp_path):
    write_subset(load_image_dataset("fashion-mnist"), tmp_path)
    cut, shipped = load_image_dataset(f"fashion-mnist:{tmp_path}"), load_image_dataset("fashion-mnist-mini")
    for part in ("train_x", "train_y", "test_x", "test_y"):
        np.testing.assert_array_equal(getattr(cut, part), getattr(shipped, part))
