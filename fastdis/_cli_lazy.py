"""Data on disk for ``fastdis evaluate``, read lazily through Dask: a zarr store, a folder of
.npy shards (stacked by row, in name order) or an HDF5 dataset. Only what the metrics
touch is read, chunk by chunk (see :mod:`fastdis._dask`).

Like :mod:`fastdis._cli_io`, every problem becomes a one-line :class:`UsageError` that
starts with the path.
"""
import contextlib
import glob
import os

from ._cli_io import UsageError, _check_dtype, pick_member

HDF5 = (".h5", ".hdf5")
# Bytes per chunk of an .npy shard or an HDF5 dataset without chunks of its own, at most:
# few tasks for the scheduler (measured at 10^8 rows, 2 workers: chunks of 4 M rows of 10
# float32 codes, 160 MiB, took 4.2 s where chunks of 1 M rows took 6.3 s), a few chunks
# in a worker's memory.
_CHUNK_BYTES = 1 << 28


def _rows_per_chunk(n_cols, dtype):
    """A power of two, so that the chunks of a narrow file (factors) are whole multiples of
    a wide one's (codes): aligning them splits chunks, never merges pieces of two."""
    import numpy as np

    rows = max(1, _CHUNK_BYTES // max(1, n_cols * np.dtype(dtype).itemsize))
    return max(1 << 12, 1 << (rows.bit_length() - 1))


def is_lazy(path):
    """Whether ``path`` is read through Dask: a folder (zarr store, .npy shards) or HDF5."""
    return os.path.isdir(path) or path.lower().endswith(HDF5)


def _dask_array(path):
    try:
        import dask.array as da
    except ImportError:
        raise UsageError(f"{path}: reading a folder or an HDF5 file needs Dask: "
                         "pip install 'fastdis[dask]'") from None
    return da


def _zarr(path, key):
    da = _dask_array(path)
    try:
        import zarr  # noqa: F401 - from_zarr needs it
    except ImportError:
        raise UsageError(f"{path}: a zarr store; reading it needs zarr: pip install zarr") from None
    try:
        return da.from_zarr(path, component=key)
    except Exception as exc:  # noqa: BLE001 - zarr raises many types on a bad store
        what = f"array {key!r} of " if key else ""
        raise UsageError(f"{path}: cannot read the {what}zarr store ({type(exc).__name__}: "
                         f"{exc}); name an array inside a group with --factors-key / "
                         "--codes-key") from None


def _npy_rows(path, r0, r1):
    """Rows [r0, r1) of an .npy file, read by the task that needs them: a memory map (the
    kernels read it in place, from the page cache; no copy)."""
    import numpy as np

    return np.load(path, mmap_mode="r", allow_pickle=False)[r0:r1]


def _hdf5_rows(path, key, r0, r1):
    """Rows [r0, r1) of an HDF5 dataset, read by the task that needs them (an open h5py
    dataset cannot be sent to another process)."""
    import h5py

    with h5py.File(path, "r") as f:
        return f[key][r0:r1]


def _lazy_rows(read, args, n_rows, n_cols, dtype, rows_per_chunk):
    """A dask array whose chunk of rows [r0, r1) is ``read(*args, r0, r1)``: only the
    arguments (paths) travel to the workers, never the data."""
    import dask

    da = _dask_array(args[0])
    task = dask.delayed(read, pure=True)
    blocks = [da.from_delayed(task(*args, r0, min(r0 + rows_per_chunk, n_rows)),
                              shape=(min(rows_per_chunk, n_rows - r0), n_cols), dtype=dtype)
              for r0 in range(0, n_rows, rows_per_chunk)]
    return da.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]


def _shards(path, chunk_rows=None):
    import numpy as np

    _dask_array(path)
    files = sorted(glob.glob(os.path.join(path, "*.npy")))
    if not files:
        raise UsageError(f"{path}: a folder with neither a zarr store (zarr.json, .zarray) nor "
                         ".npy shards")
    parts, first = [], None
    for name in files:
        try:
            shard = np.load(name, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - numpy raises several types on a bad file
            raise UsageError(f"{name}: not a valid .npy file ({exc})") from None
        _check_dtype(name, shard.dtype)
        if shard.ndim != 2:
            raise UsageError(f"{name}: a {shard.ndim}-D array; each shard must be 2-D "
                             "(rows, columns)")
        if first is None:
            first = shard
        elif (shard.shape[1], shard.dtype) != (first.shape[1], first.dtype):
            raise UsageError(f"{name}: shape {shard.shape} and dtype {shard.dtype} do not "
                             f"match the first shard's ({first.shape[1]} columns, "
                             f"{first.dtype})")
        if shard.shape[0]:
            parts.append(_lazy_rows(_npy_rows, (name,), shard.shape[0], shard.shape[1],
                                    shard.dtype,
                                    chunk_rows or _rows_per_chunk(shard.shape[1], shard.dtype)))
    if not parts:
        raise UsageError(f"{path}: every .npy shard is empty")
    import dask.array as da

    return da.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]


def _hdf5(path, key, option, chunk_rows=None):
    _dask_array(path)
    try:
        import h5py
    except ImportError:
        raise UsageError(f"{path}: an HDF5 file; reading it needs h5py: pip install h5py") from None
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset)
                     else None)
        key = pick_member(path, names, key, option, "dataset")
        dataset = f[key]
        if dataset.ndim != 2:
            raise UsageError(f"{path}: dataset {key!r} is {dataset.ndim}-D, expected 2-D "
                             "(rows, columns)")
        _check_dtype(path, dataset.dtype, f"dataset {key!r}")
        rows = chunk_rows or _rows_per_chunk(dataset.shape[1], dataset.dtype)
        step = dataset.chunks[0] * max(1, rows // dataset.chunks[0]) \
            if dataset.chunks and not chunk_rows else rows
        shape, dtype = dataset.shape, dataset.dtype
    if shape[0] == 0:
        raise UsageError(f"{path}: dataset {key!r} has no rows")
    return _lazy_rows(_hdf5_rows, (path, key), shape[0], shape[1], dtype, step)


def read_lazy(path, key=None, option="--factors-key / --codes-key", chunk_rows=None):
    """A dask array of the data at ``path`` (see the module docstring); ``chunk_rows``:
    rows per chunk of .npy shards and HDF5 datasets (default: ~256 MiB), e.g. the chunks of
    the array it goes with, so that each task reads the same rows of both."""
    if path.lower().endswith(HDF5):
        return _hdf5(path, key, option, chunk_rows)
    if any(os.path.exists(os.path.join(path, m)) for m in ("zarr.json", ".zarray", ".zgroup")):
        array = _zarr(path, key)
    else:
        if key is not None:
            raise UsageError(f"{option} names an array inside a .npz, zarr group or HDF5 file; "
                             f"{path} is a folder of .npy shards")
        array = _shards(path, chunk_rows)
    if array.ndim != 2:
        raise UsageError(f"{path}: a {array.ndim}-D array, expected 2-D (rows, columns)")
    return array


@contextlib.contextmanager
def scheduler(name):
    """Run the block with Dask's ``threads``, ``processes`` or ``sync`` scheduler, or on the
    dask.distributed scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786)."""
    if name is None:
        yield
        return
    import dask

    if name in ("threads", "processes", "sync"):
        with dask.config.set(scheduler=name):
            yield
        return
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--scheduler {name}: a scheduler address needs dask.distributed: "
                         "pip install 'fastdis[dask]'") from None
    try:
        client = distributed.Client(name, timeout=10)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError, ...
        raise UsageError(f"--scheduler {name}: cannot connect ({type(exc).__name__}: "
                         f"{exc}); give threads, processes, sync or a scheduler's address "
                         "(tcp://HOST:8786)") from None
    with client:
        yield
