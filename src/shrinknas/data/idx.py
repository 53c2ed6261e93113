"""Reader and writer of the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.

Every way a file can be wrong (bad gzip, bad magic, truncated or overlong data) becomes one
DatasetMissingError line naming the file, because a half-downloaded dataset is a common user problem.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetMissingError

# IDX type codes (third magic byte) and their big-endian element types.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_REFETCH = "replace it with a fresh copy"


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` names are decompressed), in native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DatasetMissingError(f"{path} is not an IDX file (bad magic number); {_REFETCH}")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetMissingError(f"{path} is truncated (header cut short); {_REFETCH}")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise DatasetMissingError(f"{path} is {state} ({len(data)} bytes, expected {expected}); {_REFETCH}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``, with no timestamp, so the
    same array always gives the same bytes)."""
    path = Path(path)
    codes = {dtype.newbyteorder("="): code for code, dtype in _IDX_TYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"IDX has no type for {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=_IDX_TYPES[codes[dtype]]).tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetMissingError(f"{path} does not exist") from None
    except (gzip.BadGzipFile, EOFError, zlib.error):
        raise DatasetMissingError(f"{path} is not a complete gzip file; {_REFETCH}") from None
    except OSError as exc:
        raise DatasetMissingError(f"cannot read {path}: {exc.strerror or exc}") from None
