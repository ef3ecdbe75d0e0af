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


class _Source:
    """The rows of one file (or folder of shards) and how a task reads them: ``pieces`` of
    (first row, row count, read, args), ``read(*args, r0, r1)`` giving the piece's rows
    [r0, r1); ``step``: rows per chunk (a power of two of ~256 MiB, or a whole number of
    the file's own chunks)."""

    def __init__(self, path, pieces, n_cols, dtype, step):
        self.path, self.pieces, self.n_cols, self.dtype = path, pieces, n_cols, dtype
        self.n_rows = pieces[-1][0] + pieces[-1][1]
        self.step = step

    def task(self, r0, r1):
        """(read, args, local r0, local r1) of rows [r0, r1), which lie in one piece."""
        for start, n, read, args in self.pieces:
            if start <= r0 and r1 <= start + n:
                return read, args, r0 - start, r1 - start
        raise AssertionError("chunk across pieces")  # _bounds cuts at every piece boundary


def _read_rows(*tasks):
    """Each source's rows of one chunk, read by one task: a chunk's factors and codes are
    then on the same worker (nothing shipped between workers before its metric task)."""
    rows = tuple(read(*args, r0, r1) for read, args, r0, r1 in tasks)
    return rows if len(rows) > 1 else rows[0]


def _bounds(sources):
    """Chunks of rows (r0, r1): cut at every piece boundary of every source, then every
    ``step`` rows (the smallest step of the sources: chunks are split, never grown)."""
    cuts = sorted({start for s in sources for start, _, _, _ in s.pieces} | {sources[0].n_rows})
    step = min(s.step for s in sources)
    return [(r0, min(r0 + step, b1)) for b0, b1 in zip(cuts[:-1], cuts[1:])
            for r0 in range(b0, b1, step)]


def _arrays(sources):
    """One dask array per source, their chunk [r0, r1) read by one task for all of them."""
    import dask
    import dask.array as da

    task = dask.delayed(_read_rows, pure=True, nout=len(sources))
    blocks = [[] for _ in sources]
    for r0, r1 in _bounds(sources):
        rows = task(*[s.task(r0, r1) for s in sources])
        for i, s in enumerate(sources):
            part = rows[i] if len(sources) > 1 else rows
            blocks[i].append(da.from_delayed(part, shape=(r1 - r0, s.n_cols), dtype=s.dtype))
    return [da.concatenate(b, axis=0) if len(b) > 1 else b[0] for b in blocks]


def _zarr_rows(path, key, r0, r1):
    """Rows [r0, r1) of a zarr array, opened by the task that reads them."""
    import zarr

    return zarr.open_array(store=path, path=key or "", mode="r")[r0:r1]


def _zarr(path, key):
    _dask_array(path)
    try:
        import zarr
    except ImportError:
        raise UsageError(f"{path}: a zarr store; reading it needs zarr: pip install zarr") from None
    try:
        array = zarr.open_array(store=path, path=key or "", mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises many types on a bad store
        what = f"array {key!r} of " if key else ""
        raise UsageError(f"{path}: cannot read the {what}zarr store ({type(exc).__name__}: "
                         f"{exc}); name an array inside a group with --factors-key / "
                         "--codes-key") from None
    if array.ndim != 2:
        raise UsageError(f"{path}: a {array.ndim}-D array, expected 2-D (rows, columns)")
    _check_dtype(path, array.dtype)
    if array.shape[0] == 0:
        raise UsageError(f"{path}: the zarr array has no rows")
    return _Source(path, [(0, array.shape[0], _zarr_rows, (path, key))], array.shape[1],
                   array.dtype, _whole_chunks(array.shape[1], array.dtype, array.chunks))


def _whole_chunks(n_cols, dtype, chunks):
    """Rows per chunk: ~256 MiB, a whole number of the file's own row chunks if it has any."""
    rows = _rows_per_chunk(n_cols, dtype)
    return chunks[0] * max(1, rows // chunks[0]) if chunks else rows


def _npy_rows(path, r0, r1):
    """Rows [r0, r1) of an .npy file, read by the task that needs them: memory-mapped (the
    kernels read the page cache in place; no copy), the mapping's pages set up in one go
    where the system can (Linux's MAP_POPULATE: a 160 MiB chunk's statistics then take
    35 ms instead of 42, the in-memory array's 27)."""
    import mmap

    import numpy as np

    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None or not hasattr(mmap, "MAP_POPULATE"):
            return np.load(path, mmap_mode="r", allow_pickle=False)[r0:r1]
        shape, fortran, dtype = read_header(fh)
        if fortran or dtype.hasobject or len(shape) != 2 or r1 <= r0:
            return np.load(path, mmap_mode="r", allow_pickle=False)[r0:r1]
        row = shape[1] * dtype.itemsize
        start, length = fh.tell() + r0 * row, (r1 - r0) * row
        base = start - start % mmap.ALLOCATIONGRANULARITY
        pages = mmap.mmap(fh.fileno(), start - base + length, prot=mmap.PROT_READ,
                          flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, offset=base)
    return np.frombuffer(pages, dtype, (r1 - r0) * shape[1], start - base).reshape(
        r1 - r0, shape[1])


def _hdf5_rows(path, key, r0, r1):
    """Rows [r0, r1) of an HDF5 dataset, read by the task that needs them (an open h5py
    dataset cannot be sent to another process)."""
    import h5py

    with h5py.File(path, "r") as f:
        return f[key][r0:r1]


def _shards(path):
    import numpy as np

    _dask_array(path)
    files = sorted(glob.glob(os.path.join(path, "*.npy")))
    if not files:
        raise UsageError(f"{path}: a folder with neither a zarr store (zarr.json, .zarray) nor "
                         ".npy shards")
    pieces, first, start = [], None, 0
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
            pieces.append((start, shard.shape[0], _npy_rows, (name,)))
            start += shard.shape[0]
    if not pieces:
        raise UsageError(f"{path}: every .npy shard is empty")
    return _Source(path, pieces, first.shape[1], first.dtype,
                   _rows_per_chunk(first.shape[1], first.dtype))


def _hdf5(path, key, option):
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
        shape, dtype, chunks = dataset.shape, dataset.dtype, dataset.chunks
    if shape[0] == 0:
        raise UsageError(f"{path}: dataset {key!r} has no rows")
    return _Source(path, [(0, shape[0], _hdf5_rows, (path, key))], shape[1], dtype,
                   _whole_chunks(shape[1], dtype, chunks))


def _source(path, key, option):
    if path.lower().endswith(HDF5):
        return _hdf5(path, key, option)
    if any(os.path.exists(os.path.join(path, m)) for m in ("zarr.json", ".zarray", ".zgroup")):
        return _zarr(path, key)
    if key is not None:
        raise UsageError(f"{option} names an array inside a .npz, zarr group or HDF5 file; "
                         f"{path} is a folder of .npy shards")
    return _shards(path)


def read_lazy(path, key=None, option="--factors-key / --codes-key"):
    """A dask array of the data at ``path`` (see the module docstring)."""
    return _arrays([_source(path, key, option)])[0]


def read_lazy_pair(factors, codes):
    """The dask arrays of two files read lazily, ``factors`` and ``codes`` each a (path,
    key, option): when they have the same rows, each chunk's factors and codes are read by
    one task (the chunks cut where either file's shards end)."""
    sources = [_source(*factors), _source(*codes)]
    if sources[0].n_rows != sources[1].n_rows:  # evaluate() says what is wrong
        return _arrays(sources[:1])[0], _arrays(sources[1:])[0]
    return tuple(_arrays(sources))


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
