"""The fastdis command, run as a user would."""
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import fastdis
from conftest import child_env
from fastdis.__main__ import main
from fastdis._cli_io import UsageError, read_array

# the package these tests imported (a source tree built in place, or the installed one)


def run(*args):
    env = child_env()
    return subprocess.run([sys.executable, "-m", "fastdis", *args], capture_output=True, env=env,
                          text=True, timeout=120, cwd=pathlib.Path(__file__).parent / "data")


def run_here(capsys, *args):
    """The command in this process (faster than a subprocess): (status, stdout, stderr lines)."""
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err.strip().splitlines()


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fastdis {fastdis.__version__}"


ALL = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig", "z_diff", "z_min_var",
       "z_max_var", "irs", "sap", "explicitness", "dci.disentanglement", "dci.completeness",
       "dci.informativeness"]
ROW = re.compile(r"^\s+(\S+)\s+(-?\d+\.\d+|NaN)\s+(\d+\.\d+)")


def table(stdout):
    return {m.group(1): float(m.group(2)) for m in map(ROW.match, stdout.splitlines()) if m}


def test_list_names_every_metric():
    out = run("list")
    assert out.returncode == 0
    for name in fastdis.available_metrics():
        assert name in out.stdout


@pytest.mark.parametrize("encoder, metrics", [("perfect", "all"), ("noise", "information,z_min_var")])
def test_demo_small(encoder, metrics):
    out = run("demo", "--small", "--encoder", encoder, "--metrics", metrics)
    assert out.returncode == 0, out.stderr
    rows = table(out.stdout)
    if encoder == "perfect":
        assert list(rows) == ALL
        assert rows["mig"] > 0.7 and rows["z_min_var"] > 0.9 and rows["dci.disentanglement"] > 0.8
    else:
        assert list(rows) == ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig",
                              "z_min_var"]
        assert rows["mig"] < 0.05 and abs(rows["z_min_var"]) < 0.3


def test_bad_arguments_exit_2_without_traceback():
    out = run("demo", "--encoder", "bogus")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "invalid choice" in out.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    factors, codes = fastdis.datasets.make_dsprites_like("perfect", small=True)
    factors, codes = factors[::4], codes[::4]
    np.save(d / "f.npy", factors)
    np.save(d / "c.npy", codes)
    np.savez(d / "both.npz", factors=factors, codes=codes)
    np.savez(d / "c_only.npz", latents=codes)
    names = ",".join(fastdis.datasets.DSPRITES_FACTORS)
    np.savetxt(d / "f.csv", factors, fmt="%d", delimiter=",", header=names, comments="")
    np.savetxt(d / "c.tsv", codes, delimiter="\t")
    bad = codes.astype(np.float64)
    bad[7, 2] = np.inf
    np.save(d / "c_inf.npy", bad)
    np.save(d / "c_short.npy", codes[:-3])
    (d / "ragged.csv").write_text("1,2\n3\n")
    (d / "f.xlsx").write_text("not a spreadsheet")
    _bad_files(d, factors, codes)
    return d, fastdis.evaluate(factors, codes, ["mig", "sap"])


@pytest.mark.parametrize("factors, codes, extra", [
    ("f.npy", "c.npy", []),
    ("both.npz", "both.npz", []),
    ("f.csv", "c.tsv", []),
    ("f.npy", "c_only.npz", ["--codes-key", "latents"]),
    ("f.npy", "c_only.npz", []),  # the only array in the file
])
def test_evaluate_reads_every_format(files, factors, codes, extra):
    d, expected = files
    out = run("evaluate", str(d / factors), str(d / codes), "--metrics", "mig,sap", *extra)
    assert out.returncode == 0, out.stderr
    rows = table(out.stdout)
    assert rows["mig"] == pytest.approx(expected["mig"], abs=5e-5)
    assert rows["sap"] == pytest.approx(expected["sap"], abs=5e-5)


def test_evaluate_parquet(files, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    d, expected = files
    factors = np.load(d / "f.npy")
    pq.write_table(pa.table({n: factors[:, i] for i, n in enumerate(fastdis.datasets.DSPRITES_FACTORS)}),
                   tmp_path / "f.parquet")
    out = run("evaluate", str(tmp_path / "f.parquet"), str(d / "c.npy"), "--metrics", "mig")
    assert out.returncode == 0, out.stderr
    assert table(out.stdout)["mig"] == pytest.approx(expected["mig"], abs=5e-5)


def test_evaluate_outputs(files, tmp_path):
    d, expected = files
    out = run("evaluate", str(d / "f.csv"), str(d / "c.npy"), "--metrics", "mig,dci",
              "--json", str(tmp_path / "r.json"), "--markdown")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("| metric | value | seconds |")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["factor_names"] == list(fastdis.datasets.DSPRITES_FACTORS)
    assert report["scores"]["mig"] == pytest.approx(expected["mig"])
    assert set(report["scores"]) == {"mig", "dci.disentanglement", "dci.completeness",
                                     "dci.informativeness"}


def test_evaluate_plot(files, tmp_path):
    pytest.importorskip("matplotlib")
    d, _ = files
    out = run("evaluate", str(d / "f.npy"), str(d / "c.npy"), "--metrics", "mig,dci",
              "--plot", str(tmp_path / "r.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def _bad_files(d, factors, codes):
    """Files the command must refuse with one line naming them."""
    (d / "empty.npy").write_bytes(b"")
    (d / "empty.npz").write_bytes(b"")
    (d / "garbage.npz").write_bytes(b"hello, not a zip archive" * 10)
    (d / "garbage.npy").write_bytes(b"hello, not an array" * 10)  # numpy says "pickled data"
    whole = (d / "c.npy").read_bytes()
    (d / "truncated.npy").write_bytes(whole[:len(whole) // 2])
    (d / "header_only.npy").write_bytes(whole[:20])
    np.save(d / "objects.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    np.savez(d / "objects.npz", codes=np.array([[1, None]], dtype=object))
    whole = (d / "both.npz").read_bytes()
    (d / "truncated.npz").write_bytes(whole[:len(whole) // 2])
    np.savez(d / "nothing.npz")
    np.savez(d / "other_keys.npz", a=factors, b=codes)
    np.save(d / "f1d.npy", factors[:, 0])
    with open(d / "f.npz", "wb") as f:  # a .npy file under a .npz name
        np.save(f, factors)
    (d / "empty.csv").write_text("")
    (d / "blank.csv").write_text("\n\n\n")
    (d / "latin1.csv").write_bytes("shape,size\ncarré,1\n".encode("latin-1"))
    (d / "hole.csv").write_text("1,2\n3,\n")
    (d / "text_codes.csv").write_text("0.5,1.5\n0.25,abc\n")
    (d / "folder.npy").mkdir()


@pytest.mark.parametrize("factors, codes, extra, message", [
    ("missing.npy", "c.npy", [], "missing.npy: no such file"),
    ("f.npy", "c_only.npz", ["--codes-key", "codes"], "has no array 'codes' (it has latents)"),
    ("both.npz", "c.npy", [], "holds 2 arrays (factors, codes): name one with --factors-key"),
    ("f.npy", "c_inf.npy", [], "c_inf.npy: codes contains NaN or infinity in column 2"),
    ("f.npy", "c_short.npy", [], "f.npy, c_short.npy: factors and codes must have the same number"),
    ("ragged.csv", "c.npy", [], "row 2 has 1 fields, expected 2"),
    ("f.xlsx", "c.npy", [], "unknown format '.xlsx'"),
    ("f.npy", "c.npy", ["--metrics", "mig,bogus"], "argument --metrics: unknown metric 'bogus'"),
    ("f.npy", "c.npy", ["--metrics", ","], "argument --metrics: metrics is empty"),
    ("f.npy", "c.npy", ["--metrics", "sap", "--plot", "x.png"], "--plot: nothing to plot"),
    ("f.npy", "c.npy", ["--metrics", "mig", "--json", "/nonexistent/dir/r.json"],
     "--json /nonexistent/dir/r.json: folder /nonexistent/dir does not exist"),
    ("f.npy", "c.npy", ["--threads", "0"], "argument --threads: n_threads must be"),
    ("f.npy", "c.npy", ["--threads", "two"], "argument --threads: expected an integer, got 'two'"),
    ("f.npy", "c.npy", ["--seed", "-1"], "argument --seed: the seed must be an integer in [0, 2**32)"),
    ("f.npy", "c.npy", ["--seed", str(2**32)], "argument --seed: the seed must be an integer"),
    ("f.npy", "c.npy", ["--seed", "1.5"], "argument --seed: expected an integer, got '1.5'"),
    ("f.npy", "c.npy", ["--bins", "7"], "unrecognized arguments: --bins 7"),
    ("f.npy", "c.npy", ["--factors-key", "x"], "--factors-key names an array inside a .npz file, a zarr group or an HDF5 file; "),
    ("f.npy", "c.npy", ["--header", "yes"], "--header applies to .csv, .tsv, .txt files; neither"),
    ("c.npy", "f.npy", [], "c.npy, f.npy: factors and codes look swapped"),
    ("empty.npy", "c.npy", [], "empty.npy: empty file (0 bytes), not a valid .npy file"),
    ("f.npy", "empty.npz", [], "empty.npz: empty file (0 bytes), not a valid .npz file"),
    ("garbage.npz", "c.npy", [], "garbage.npz: not a valid .npz file (not a zip archive)"),
    ("garbage.npy", "c.npy", [], "garbage.npy: not a valid .npy file (it does not start with"),
    ("f.npy", "truncated.npy", [], "truncated.npy: truncated .npy file: its header promises"),
    ("f.npy", "header_only.npy", [], "header_only.npy: not a valid .npy file (its header"),
    ("objects.npy", "c.npy", [], "objects.npy: the array holds Python objects (dtype object)"),
    ("f.npy", "objects.npz", [], "objects.npz: array 'codes' holds Python objects"),
    ("truncated.npz", "truncated.npz", [], "truncated.npz: not a valid .npz file (BadZipFile"),
    ("nothing.npz", "c.npy", [], "nothing.npz: holds no arrays"),
    ("other_keys.npz", "other_keys.npz", [], "has no array 'factors' (it has a, b): name one"),
    ("f1d.npy", "c.npy", [], "f1d.npy: factors must be a 2-D array"),
    ("f.npz", "c.npy", [], "f.npz: a .npy file, not a .npz archive"),
    ("empty.csv", "c.npy", [], "empty.csv: empty file (no rows)"),
    ("blank.csv", "c.npy", [], "blank.csv: empty file (no rows)"),
    ("latin1.csv", "c.npy", [], "latin1.csv: not UTF-8 text (invalid continuation byte"),
    ("hole.csv", "c.npy", [], "hole.csv: row 2, column 1 is empty"),
    ("f.npy", "text_codes.csv", [], "text_codes.csv: codes must be numbers; row 2, column 1 is 'abc'"),
    ("folder.npy", "c.npy", [], "folder.npy: a folder with neither a zarr store"),
])
def test_evaluate_errors_exit_2_with_one_line(files, capsys, factors, codes, extra, message):
    d, _ = files
    status, out, err = run_here(capsys, "evaluate", d / factors, d / codes, *extra)
    assert status == 2 and out == "" and len(err) == 1, err
    line = err[0].replace(f"{d}{os.sep}", "")  # the paths as the user named them
    assert line.startswith("fastdis: error: ") and message in line and "allow_pickle" not in line


@pytest.mark.parametrize("factors, codes, extra, message", [
    ("empty.npy", "c.npy", [], "empty.npy: empty file"),
    ("garbage.npz", "c.npy", [], "garbage.npz: not a valid .npz file"),
    ("c.npy", "f.npy", [], "look swapped"),
    ("f.npy", "c.npy", ["--seed", "-1"], "argument --seed"),
    ("f.npy", "c.npy", ["--threads", "99999999999"], "argument --threads: n_threads"),
])
def test_the_process_exits_2_with_one_line(files, factors, codes, extra, message):
    d, _ = files
    out = run("evaluate", str(d / factors), str(d / codes), *extra)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastdis: error: ") and message in lines[0], out.stderr


def test_unreadable_file(files, capsys, monkeypatch):
    import fastdis._cli_io

    d, _ = files

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fastdis._cli_io, "open", denied, raising=False)
    for name in ("f.npy", "both.npz", "f.csv"):
        with pytest.raises(UsageError, match=f"{name}: cannot read it: Permission denied$"):
            read_array(str(d / name), key="factors")


@pytest.mark.parametrize("command", [[], ["evaluate"], ["demo"]])
def test_exit_statuses_are_documented(capsys, command):
    status, out, _ = run_here(capsys, *command, "--help")
    assert status == 0
    text = " ".join(out.split())
    for status in ("0 every requested metric was computed", "2 bad usage or input",
                   "3 the report was printed, but a requested metric failed or gave NaN",
                   "130 interrupted"):
        assert status in text


@pytest.mark.parametrize("exc", [ZeroDivisionError("float division by zero"),
                                 RuntimeError("solver diverged"), MemoryError()])
def test_failed_metrics_exit_3_with_one_line_each(files, capsys, monkeypatch, exc):
    d, expected = files

    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(fastdis.metrics, "sap", broken)
    monkeypatch.setattr(fastdis.metrics, "irs", lambda *a, **k: float("nan"))
    status, out, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy",
                                "--metrics", "mig,sap,irs")
    assert status == 3
    rows = table(out)
    assert rows["mig"] == pytest.approx(expected["mig"], abs=5e-5)
    assert np.isnan(rows["sap"]) and np.isnan(rows["irs"])
    assert err == [f"fastdis: sap failed: {type(exc).__name__}: {exc}".rstrip(),
                   "fastdis: irs failed: gave NaN"]


def test_a_metric_failing_on_the_data_exits_3(tmp_path):
    rng = np.random.default_rng(0)
    factors = np.column_stack([np.arange(300), rng.integers(0, 3, 300)])  # a continuous factor
    np.save(tmp_path / "f.npy", factors)
    np.save(tmp_path / "c.npy", rng.normal(size=(300, 3)))
    out = run("evaluate", str(tmp_path / "f.npy"), str(tmp_path / "c.npy"),
              "--metrics", "z_max_var,mig")
    assert out.returncode == 3 and "Traceback" not in out.stderr
    rows = table(out.stdout)
    assert np.isnan(rows["z_max_var"]) and np.isfinite(rows["mig"])
    failed = [line for line in out.stderr.splitlines() if " failed: " in line]
    assert len(failed) == 1 and failed[0].startswith("fastdis: z_max_var failed: ValueError: ")
    # mig's warning is one line too, not a Python warning's two
    assert all(line.startswith("fastdis: ") for line in out.stderr.splitlines())
    assert any(line.startswith("fastdis: warning: DegenerateWarning: ") for line in out.stderr.splitlines())


def test_csv_header_detection(tmp_path):
    """A first row of names is found above numbers and above text labels (names do not
    recur down a column, labels do); --header yes/no overrides the guess."""
    cases = {
        "numbers.csv": ("shape,scale\n1,0.5\n2,1.0\n", ["shape", "scale"], [[1, 0.5], [2, 1.0]]),
        "labels.csv": ("shape,size\nsquare,small\nheart,big\nsquare,big\n", ["shape", "size"],
                       [["square", "small"], ["heart", "big"], ["square", "big"]]),
        "no_header.csv": ("square,small\nheart,big\nsquare,big\n", None,
                          [["square", "small"], ["heart", "big"], ["square", "big"]]),
        "plain.csv": ("1,2\n3,4\n", None, [[1, 2], [3, 4]]),
    }
    for name, (text, names, values) in cases.items():
        (tmp_path / name).write_text(text)
        array, got, notes = read_array(str(tmp_path / name))
        assert got == names and notes == [], name
        assert array.tolist() == values, name
    array, got, _ = read_array(str(tmp_path / "labels.csv"), header="no")
    assert got is None and array.shape == (4, 2)
    array, got, _ = read_array(str(tmp_path / "no_header.csv"), header="yes")
    assert got == ["square", "small"] and array.shape == (2, 2)
    (tmp_path / "only.csv").write_text("a,b\n")
    with pytest.raises(UsageError, match="a header and no rows"):
        read_array(str(tmp_path / "only.csv"), header="yes")


def test_pandas_csv_numbered_header_is_not_data(tmp_path):
    """to_csv(index=False) of a default frame writes 0,1,...,k-1 as its first row."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    cases = {"floats": rng.normal(size=(20, 3)), "ints": rng.integers(0, 4, size=(20, 2)),
             "one_float_column": rng.normal(size=(20, 1))}
    for name, data in cases.items():
        path = tmp_path / f"{name}.csv"
        pd.DataFrame(data).to_csv(path, index=False)
        array, names, notes = read_array(str(path))
        np.testing.assert_allclose(array, data, rtol=1e-15)  # the header row is not data
        assert names is None, name
        assert len(notes) == 1 and notes[0].startswith(f"note: {path}: first row ") \
            and "pandas' default column names" in notes[0] and "--header no" in notes[0]
        array, names, _ = read_array(str(path), header="no")
        assert array.shape == (21, data.shape[1]) and array[0].tolist() == list(range(data.shape[1]))


def test_a_first_row_0_above_integer_labels_is_data(tmp_path):
    """One integer column starting with 0 is as likely labels as pandas' column name."""
    (tmp_path / "labels.csv").write_text("0\n1\n2\n1\n0\n")
    array, names, notes = read_array(str(tmp_path / "labels.csv"))
    assert array[:, 0].tolist() == [0, 1, 2, 1, 0] and names is None and notes == []


def test_pandas_csv_index_column_is_left_out(tmp_path):
    """to_csv() with its default index writes an unnamed first column 0..N-1."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(30, 3))
    factors = rng.integers(0, 3, size=(30, 2))
    pd.DataFrame(codes).to_csv(tmp_path / "codes.csv")
    pd.DataFrame(factors, columns=["shape", "size"]).to_csv(tmp_path / "factors.csv")
    array, names, notes = read_array(str(tmp_path / "codes.csv"))
    np.testing.assert_allclose(array, codes, rtol=1e-15)
    assert names is None and len(notes) == 1 and "is a pandas index: left out" in notes[0]
    array, names, notes = read_array(str(tmp_path / "factors.csv"))
    np.testing.assert_array_equal(array, factors)
    assert names == ["shape", "size"] and "is a pandas index: left out" in notes[0]


@pytest.mark.parametrize("index", ["shuffled", "one-based", "filtered", "labels"])
def test_any_unnamed_pandas_index_column_is_left_out(tmp_path, index):
    """An index that is not 0..N-1 (rows shuffled, 1-based, filtered, text labels) is still
    written by to_csv() as an unnamed first column: it once became an extra code silently."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    frame = {"shuffled": frame.sample(frac=1, random_state=0),
             "one-based": frame.set_axis(np.arange(1, 41)),
             "filtered": frame[frame["a"] > -0.5],
             "labels": frame.set_axis([f"row{i}" for i in range(40)])}[index]
    frame.to_csv(tmp_path / "codes.csv")
    array, names, notes = read_array(str(tmp_path / "codes.csv"))
    np.testing.assert_allclose(array, frame.to_numpy(), rtol=1e-15)
    assert names == ["a", "b", "c"] and "is a pandas index: left out" in notes[0]


def test_a_named_or_headerless_row_number_column_is_kept_with_a_warning(tmp_path):
    rng = np.random.default_rng(2)
    codes = rng.normal(size=(30, 2))
    with_ids = np.column_stack([np.arange(30), codes])
    np.savetxt(tmp_path / "named.csv", with_ids, delimiter=",", header="id,a,b", comments="",
               fmt=["%d", "%.17g", "%.17g"])
    np.savetxt(tmp_path / "bare.csv", with_ids, delimiter=",", fmt=["%d", "%.17g", "%.17g"])
    for name in ("named.csv", "bare.csv"):
        array, _, notes = read_array(str(tmp_path / name))
        np.testing.assert_allclose(array, with_ids, rtol=1e-15)
        assert len(notes) == 1 and notes[0].startswith("warning: ") and "like a pandas index" in notes[0]


def test_pandas_written_files_give_the_values_of_the_arrays(files, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    d, expected = files
    pd.DataFrame(np.load(d / "f.npy")).to_csv(tmp_path / "f.csv", index=False)
    pd.DataFrame(np.load(d / "c.npy")).to_csv(tmp_path / "c.csv")
    status, out, err = run_here(capsys, "evaluate", tmp_path / "f.csv", tmp_path / "c.csv",
                                "--metrics", "mig,sap")
    assert status == 0
    rows = table(out)
    assert rows["mig"] == pytest.approx(expected["mig"], abs=5e-5)
    assert rows["sap"] == pytest.approx(expected["sap"], abs=5e-5)
    assert len(err) == 2 and all(line.startswith("fastdis: note: ") for line in err)


@pytest.mark.parametrize("exc, status, message", [
    (MemoryError, 2, "fastdis: error: out of memory: "),
    (KeyboardInterrupt, 130, "fastdis: interrupted"),
])
def test_out_of_memory_and_interrupts_are_one_line(files, capsys, monkeypatch, exc, status, message):
    import fastdis._evaluate

    def raising(*args, **kwargs):
        raise exc

    monkeypatch.setattr(fastdis._evaluate, "check_pair", raising)
    got, out, err = run_here(capsys, "evaluate", files[0] / "f.npy", files[0] / "c.npy")
    assert got == status and out == "" and len(err) == 1 and err[0].startswith(message)


def test_one_factor_runs_every_metric_without_a_traceback(tmp_path):
    """One factor: some metrics are undefined (DCI needs two); each NaN row of the report has
    its one 'failed' line, every other metric is computed, and no traceback is printed."""
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(400, 1))
    codes = np.column_stack([factors[:, 0] + rng.normal(0, 0.1, 400), rng.normal(size=400)])
    np.save(tmp_path / "f.npy", factors)
    np.save(tmp_path / "c.npy", codes)
    out = run("evaluate", str(tmp_path / "f.npy"), str(tmp_path / "c.npy"))
    assert out.returncode == 3 and "Traceback" not in out.stderr
    rows = table(out.stdout)
    assert list(rows) == ALL
    nan = {name.partition(".")[0] for name, value in rows.items() if np.isnan(value)}
    failed = {line.split()[1] for line in out.stderr.splitlines() if " failed: " in line}
    assert "dci" in nan and failed == nan


def test_outputs_that_cannot_be_written_name_their_option(files, capsys, monkeypatch):
    d, _ = files

    def broken(*args, **kwargs):
        raise RuntimeError("no estimate")

    monkeypatch.setattr(fastdis.metrics, "mig", broken)  # so no MI matrix to plot
    status, _, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy", "--metrics", "mig",
                              "--plot", d / "r.png")
    assert status == 2 and err[-1].startswith("fastdis: error: --plot: nothing to plot")
    assert err[:-1] == ["fastdis: mig failed: RuntimeError: no estimate"]
    status, _, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy", "--metrics", "sap",
                              "--json", d)
    assert status == 2 and err == [f"fastdis: error: --json {d}: a directory, not a file"]


def test_every_option_has_help_text():
    from fastdis.__main__ import _parser

    parser = _parser()
    subparsers = [a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction)]
    for name, sub in subparsers[0].choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"fastdis {name} {action.option_strings[0]} has no help"


def test_convention_and_binning_options_reproduce_the_functions(files, capsys, tmp_path):
    d, _ = files
    factors, codes = np.load(d / "f.npy"), np.load(d / "c.npy")
    out = tmp_path / "r.json"
    status, _, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy", "--convention", "dlib",
                              "--metrics", "mig,sap,irs,jemmig", "--json", out)
    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["scores"]["mig"] == fastdis.mig(factors, codes, convention="dlib")
    assert report["scores"]["sap"] == fastdis.sap(factors, codes, convention="dlib", random_state=0)
    assert report["scores"]["irs"] == fastdis.irs(factors, codes, convention="dlib")
    assert report["scores"]["jemmig"] == fastdis.jemmig(factors, codes)  # dlib has none
    effective = report["settings"]["effective"]
    assert effective["mig"]["convention"] == "dlib" and effective["jemmig"]["convention"] is None
    assert effective["irs"]["diff_quantile"] == 0.99
    status, _, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy", "--n-bins", "7",
                              "--factor-bins", "3", "--sap-mode", "classification",
                              "--metrics", "mig,sap,z_min_var", "--json", out,
                              "--factor-names", ",".join(f"v{k}" for k in range(factors.shape[1])))
    assert status == 0, err
    report = json.loads(out.read_text())
    assert report["scores"]["mig"] == fastdis.mig(factors, codes, n_bins=7, factor_bins=3)
    assert report["scores"]["sap"] == fastdis.sap(factors, codes, mode="classification",
                                                  random_state=0)
    assert report["scores"]["z_min_var"] == fastdis.z_min_var(factors, codes, factor_bins=3,
                                                              random_state=0)
    assert report["factor_names"][0] == "v0"
    status, _, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy", "--n-bins", "1")
    assert status == 2 and "--n-bins must be an integer >= 2" in err[-1]
    status, _, err = run_here(capsys, "evaluate", d / "f.npy", d / "c.npy", "--code-names", "a,b")
    assert status == 2 and "code_names" in err[-1]
