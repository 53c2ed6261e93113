import pickle

import numpy as np
import pytest

from shrinknas.data.images import load_image_dataset
from shrinknas.errors import BadInputError, DatasetMissingError


def test_cifar10_batches_round_trip_in_order(cifar10_dir):
    directory, arrays = cifar10_dir()
    data = load_image_dataset(f"cifar10:{directory}")
    assert data.n_classes == 10
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_x.shape == (7, 3, 32, 32)
    assert data.train_x.dtype == np.uint8 and data.train_y.dtype == np.int64
    np.testing.assert_array_equal(data.train_x, arrays["train_x"])
    np.testing.assert_array_equal(data.train_y, arrays["train_y"])
    np.testing.assert_array_equal(data.test_x, arrays["test_x"])
    np.testing.assert_array_equal(data.test_y, arrays["test_y"])


def test_cifar10_pixels_are_channel_major(tmp_path, write_cifar_records):
    record = np.zeros((1, 1 + 3072), dtype=np.uint8)
    record[0, 0] = 7  # label
    record[0, 1 + 1024 + 2 * 32 + 5] = 200  # green channel, row 2, column 5
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (tmp_path / name).write_bytes(record.tobytes())
    data = load_image_dataset(f"cifar10:{tmp_path}")
    assert data.train_y.tolist() == [7] * 5
    assert data.train_x[0, 1, 2, 5] == 200 and int(data.train_x[0].sum()) == 200


def test_cifar10_accepts_the_unpacked_archive_folder(tmp_path, cifar10_dir):
    cifar10_dir(root=tmp_path / "cifar-10-batches-bin")
    assert load_image_dataset(f"cifar10:{tmp_path}").train_x.shape == (20, 3, 32, 32)


@pytest.mark.parametrize("folder", ["", "cifar-100-binary"])
def test_cifar100_uses_the_fine_label(tmp_path, write_cifar_records, folder):
    rng = np.random.default_rng(3)
    root = tmp_path / folder
    train_x = rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)
    fine = np.array([0, 99, 42, 7, 63, 5])
    write_cifar_records(root / "train.bin", train_x, [fine // 5, fine])
    write_cifar_records(root / "test.bin", train_x[:2], [fine[:2] // 5, fine[:2]])
    data = load_image_dataset(f"cifar100:{tmp_path}")
    assert data.n_classes == 100
    np.testing.assert_array_equal(data.train_y, fine)
    np.testing.assert_array_equal(data.train_x, train_x)
    np.testing.assert_array_equal(data.test_y, fine[:2])


def test_truncated_batch_is_reported(cifar10_dir):
    directory, _ = cifar10_dir()
    path = directory / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetMissingError, match="data_batch_3.bin is truncated") as info:
        load_image_dataset(f"cifar10:{directory}")
    assert "cifar-10-binary.tar.gz" in str(info.value)


def test_missing_test_batch_is_reported(cifar10_dir):
    directory, _ = cifar10_dir()
    (directory / "test_batch.bin").unlink()
    with pytest.raises(DatasetMissingError, match="test_batch.bin is missing"):
        load_image_dataset(f"cifar10:{directory}")


def test_cifar10_label_out_of_range_is_reported(tmp_path, cifar10_dir, write_cifar_records):
    directory, arrays = cifar10_dir()
    write_cifar_records(directory / "test_batch.bin", arrays["test_x"], [np.full(7, 10)])
    with pytest.raises(DatasetMissingError, match="label 10 is outside 0..9"):
        load_image_dataset(f"cifar10:{directory}")


def test_cifar100_fine_label_out_of_range_is_reported(tmp_path, write_cifar_records):
    images = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    write_cifar_records(tmp_path / "train.bin", images, [np.array([1, 2]), np.array([3, 100])])
    write_cifar_records(tmp_path / "test.bin", images, [np.array([1, 2]), np.array([3, 4])])
    with pytest.raises(DatasetMissingError, match="label 100 is outside 0..99"):
        load_image_dataset(f"cifar100:{tmp_path}")


def test_empty_directory_says_which_archive_to_unpack(tmp_path):
    with pytest.raises(DatasetMissingError, match="no CIFAR-100 binary files .*cifar-100-binary.tar.gz"):
        load_image_dataset(f"cifar100:{tmp_path}")


class _Tripwire:
    """Unpickling this creates a file: proof that a loader unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("nested", [False, True])
def test_python_version_is_refused_without_unpickling(tmp_path, nested):
    tripwire = tmp_path / "unpickled"
    root = tmp_path / "cifar-10-batches-py" if nested else tmp_path
    root.mkdir(exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (root / name).write_bytes(pickle.dumps(_Tripwire(tripwire)))
    with pytest.raises(DatasetMissingError, match="python .*not supported.*cifar-10-binary.tar.gz"):
        load_image_dataset(f"cifar10:{tmp_path}")
    assert not tripwire.exists()


def test_cifar_without_a_directory_is_bad_input():
    with pytest.raises(BadInputError, match="cifar10:DIR"):
        load_image_dataset("cifar10")


def test_class_names_come_from_the_archives_text_file(cifar10_dir):
    directory, _ = cifar10_dir()
    assert load_image_dataset(f"cifar10:{directory}").class_names == tuple(map(str, range(10)))
    load_image_dataset.cache_clear()
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (directory / "batches.meta.txt").write_text("\n".join(names) + "\n\n")  # the archive's file ends in blank lines
    assert load_image_dataset(f"cifar10:{directory}").class_names == tuple(names)
    load_image_dataset.cache_clear()
    (directory / "batches.meta.txt").write_text("airplane\nautomobile\n")
    assert load_image_dataset(f"cifar10:{directory}").class_names == tuple(map(str, range(10)))
