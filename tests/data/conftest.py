"""Writers of tiny real-format dataset files (IDX, CIFAR binary) for the data tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

_IDX_TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, _IDX_TYPE_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx(path: Path, array: np.ndarray) -> Path:
    """An IDX file of ``array``, gzip-compressed when the name ends in .gz."""
    data = _idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.fixture
def write_idx() -> Callable[[Path, np.ndarray], Path]:
    return _write_idx


@pytest.fixture
def fashion_dir(tmp_path: Path) -> Callable[..., tuple[Path, dict[str, np.ndarray]]]:
    """A factory of Fashion-MNIST directories (20 train, 10 test images); returns the directory and its arrays."""

    def make(gz: bool = True, n_train: int = 20, n_test: int = 10) -> tuple[Path, dict[str, np.ndarray]]:
        rng = np.random.default_rng(1)
        arrays = {
            "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
        }
        for stem, array in arrays.items():
            _write_idx(tmp_path / (stem + (".gz" if gz else "")), array)
        return tmp_path, arrays

    return make


def _cifar_records(images: np.ndarray, label_columns: list[np.ndarray]) -> bytes:
    """Records of label byte(s) then the 3072 image bytes, channel-major (all red, green, blue)."""
    labels = np.stack(label_columns, axis=1).astype(np.uint8)
    return np.concatenate([labels, images.reshape(len(images), -1)], axis=1).tobytes()


@pytest.fixture
def write_cifar_records() -> Callable[[Path, np.ndarray, list[np.ndarray]], Path]:
    def write(path: Path, images: np.ndarray, label_columns: list[np.ndarray]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_cifar_records(images, label_columns))
        return path

    return write


@pytest.fixture
def cifar10_dir(tmp_path: Path, write_cifar_records) -> Callable[..., tuple[Path, dict[str, np.ndarray]]]:
    """A factory of CIFAR-10 binary directories: 5 batches of ``per_batch`` images and a test batch of 7.

    Each channel has its own brightness range, so per-channel statistics differ.
    """

    def make(root: Path = tmp_path, per_batch: int = 4) -> tuple[Path, dict[str, np.ndarray]]:
        rng = np.random.default_rng(2)
        low = np.array([0, 80, 160], dtype=np.uint8)[None, :, None, None]

        def images(n: int) -> np.ndarray:
            return (low + rng.integers(0, 96, (n, 3, 32, 32), dtype=np.uint8)).astype(np.uint8)

        train_x, test_x = images(5 * per_batch), images(7)
        train_y, test_y = np.arange(5 * per_batch) % 10, np.arange(7) % 10
        for b in range(5):
            part = slice(b * per_batch, (b + 1) * per_batch)
            write_cifar_records(root / f"data_batch_{b + 1}.bin", train_x[part], [train_y[part]])
        write_cifar_records(root / "test_batch.bin", test_x, [test_y])
        return root, {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}

    return make


def _write_image(path: Path, pixels: np.ndarray) -> Path:
    """An image file of ``pixels`` (H, W grey or H, W, 3 colour); the suffix picks the format (.png, .jpg)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def write_image() -> Callable[[Path, np.ndarray], Path]:
    return _write_image


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """A factory of class folders: ``per_class`` PNG images of each class, each class one flat brightness.

    Class c's images have value 40 + 60 c (or that colour in the red channel), so a loaded image says its class.
    """

    def make(root: Path = tmp_path / "images", classes: tuple[str, ...] = ("cat", "dog", "emu"), per_class: int = 5,
             size: tuple[int, int] = (6, 8), colour: bool = False, suffix: str = ".png") -> Path:
        for c, name in enumerate(classes):
            for i in range(per_class):
                shape = (*size, 3) if colour else size
                pixels = np.zeros(shape, dtype=np.uint8)
                if colour:
                    pixels[..., 0] = 40 + 60 * c
                else:
                    pixels[...] = 40 + 60 * c
                _write_image(root / name / f"{i:03d}{suffix}", pixels)
        return root

    return make
