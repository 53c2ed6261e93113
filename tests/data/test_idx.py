import gzip

import numpy as np
import pytest

from shrinknas.data.idx import read_idx
from shrinknas.data.idx import write_idx as write_idx_file
from shrinknas.errors import DatasetMissingError


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_uint8_images_round_trip_plain_and_gzip(tmp_path, write_idx, name):
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 4), dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / name, images))
    assert out.dtype == np.uint8 and out.shape == (5, 3, 4)
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_wider_types_are_read_big_endian_into_native_order(tmp_path, write_idx, dtype):
    values = np.array([[1, -2, 300], [4000, -5, 6]], dtype=dtype)
    out = read_idx(write_idx(tmp_path / "values-idx2", values))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def _idx_file(tmp_path, write_idx):
    return write_idx(tmp_path / "labels-idx1-ubyte", np.arange(10, dtype=np.uint8))


def test_bad_magic_is_reported(tmp_path, write_idx):
    path = _idx_file(tmp_path, write_idx)
    path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
    with pytest.raises(DatasetMissingError, match="bad magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_data_is_reported(tmp_path, write_idx):
    path = _idx_file(tmp_path, write_idx)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DatasetMissingError, match="truncated .*expected 18"):
        read_idx(path)


def test_truncated_header_is_reported(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DatasetMissingError, match="header cut short"):
        read_idx(path)


def test_trailing_bytes_are_reported(tmp_path, write_idx):
    path = _idx_file(tmp_path, write_idx)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(DatasetMissingError, match="longer than its header"):
        read_idx(path)


def test_truncated_gzip_is_reported(tmp_path, write_idx):
    path = write_idx(tmp_path / "images-idx3-ubyte.gz", np.zeros((50, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetMissingError, match="not a complete gzip file"):
        read_idx(path)


def test_gz_name_without_gzip_content_is_reported(tmp_path, write_idx):
    plain = _idx_file(tmp_path, write_idx)
    fake = tmp_path / "labels-idx1-ubyte.gz"
    fake.write_bytes(plain.read_bytes())
    with pytest.raises(DatasetMissingError, match="gzip"):
        read_idx(fake)


def test_gzip_of_a_non_idx_file_is_reported(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(DatasetMissingError, match="bad magic"):
        read_idx(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(DatasetMissingError, match="does not exist"):
        read_idx(tmp_path / "nothing-idx1-ubyte")


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_written_files_read_back_and_repeat_byte_for_byte(tmp_path, name, dtype):
    array = (np.arange(24) - 3).reshape(2, 3, 4).astype(dtype) if dtype != np.uint8 else np.arange(24, dtype=dtype)
    path = write_idx_file(tmp_path / name, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    first = path.read_bytes()
    assert write_idx_file(tmp_path / name, array).read_bytes() == first  # gzip carries no timestamp
