"""``fastdis evaluate`` on data on disk read lazily through Dask: a zarr store, a folder of
.npy shards, an HDF5 file; ``--scheduler``. The report equals the one of the same arrays
read whole."""
import json

import numpy as np
import pytest

from fastdis.__main__ import main

pytest.importorskip("dask.array")


def _scores(tmp_path, capsys, *args):
    out = tmp_path / "report.json"
    status = main([str(a) for a in args] + ["--json", str(out), "--metrics",
                                             "information,sap,z_diff"])
    err = capsys.readouterr().err
    assert status == 0, err
    return json.loads(out.read_text())["scores"]


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    f = rng.integers(0, 5, (9000, 3)).astype(np.int8)
    z = (f @ rng.normal(size=(3, 4)) + rng.normal(size=(9000, 4))).astype(np.float32)
    np.save(tmp_path / "f.npy", f)
    np.save(tmp_path / "z.npy", z)
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, r0 in enumerate((0, 1000, 1000, 5000)):  # one shard empty, unequal sizes
        r1 = {0: 1000, 1: 1000, 2: 5000, 3: 9000}[i]
        np.save(shards / f"part{i:02d}.npy", z[r0:r1])
    return tmp_path, f, z


def test_npy_shards_equal_the_whole_array(files, capsys):
    path, _, _ = files
    whole = _scores(path, capsys, "evaluate", path / "f.npy", path / "z.npy")
    # processes: each task reads its own rows (only the paths are sent to the workers)
    for scheduler in ([], ["--scheduler", "sync"], ["--scheduler", "threads"],
                      ["--scheduler", "processes"]):
        got = _scores(path, capsys, "evaluate", path / "f.npy", path / "shards", *scheduler)
        assert got == pytest.approx(whole, rel=1e-12)  # sap: chunks' moment sums, to rounding


def test_zarr_store_and_group(files, capsys):
    zarr = pytest.importorskip("zarr")
    path, f, z = files
    whole = _scores(path, capsys, "evaluate", path / "f.npy", path / "z.npy")
    for name, x, chunks in (("f.zarr", f, (2000, 3)), ("z.zarr", z, (1500, 4))):
        array = zarr.create_array(str(path / name), shape=x.shape, dtype=x.dtype, chunks=chunks)
        array[:] = x
    assert _scores(path, capsys, "evaluate", path / "f.zarr", path / "z.zarr") == \
        pytest.approx(whole, rel=1e-12)
    group = zarr.open_group(str(path / "both.zarr"), mode="w")
    group.create_array("factors", shape=f.shape, dtype=f.dtype, chunks=(4000, 3))[:] = f
    group.create_array("codes", shape=z.shape, dtype=z.dtype, chunks=(4000, 4))[:] = z
    assert _scores(path, capsys, "evaluate", path / "both.zarr", path / "both.zarr",
                   "--factors-key", "factors", "--codes-key", "codes") == \
        pytest.approx(whole, rel=1e-12)


def test_hdf5_dataset(files, capsys):
    h5py = pytest.importorskip("h5py")
    path, f, z = files
    whole = _scores(path, capsys, "evaluate", path / "f.npy", path / "z.npy")
    with h5py.File(path / "data.h5", "w") as h:
        h.create_dataset("latents/codes", data=z, chunks=(1000, 4))
        h.create_dataset("factors", data=f)
    for scheduler in ("threads", "processes"):  # an open HDF5 file cannot be pickled
        assert _scores(path, capsys, "evaluate", path / "data.h5", path / "data.h5",
                       "--factors-key", "factors", "--codes-key", "latents/codes",
                       "--scheduler", scheduler) == pytest.approx(whole, rel=1e-12)


def test_problems_are_one_line_naming_the_path(files, capsys):
    path, f, _ = files
    (path / "empty").mkdir()
    np.save(path / "shards" / "zz_bad.npy", f)  # an int8 shard of 3 columns among codes
    cases = [
        (["evaluate", path / "f.npy", path / "empty"], "neither a zarr store"),
        (["evaluate", path / "f.npy", path / "shards"], "do not match the first shard"),
        (["evaluate", path / "f.npy", path / "z.npy", "--scheduler", "threads"],
         "--scheduler applies to data read through Dask"),
        (["evaluate", path / "f.npy", path / "empty", "--codes-key", "x"],
         "folder of .npy shards"),
    ]
    for args, message in cases:
        status = main([str(a) for a in args])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and message in err[0], err
