"""The fastdis command, run as a user would."""
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import fastdis


def run(*args):
    # outside the source tree, so that the installed package (with its extension) is used
    return subprocess.run([sys.executable, "-m", "fastdis", *args], capture_output=True,
                          text=True, timeout=120, cwd=pathlib.Path(__file__).parent / "data")


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


@pytest.mark.parametrize("factors, codes, extra, message", [
    ("missing.npy", "c.npy", [], "missing.npy: no such file"),
    ("f.npy", "c_only.npz", ["--codes-key", "codes"], "has no array 'codes' (it has latents)"),
    ("both.npz", "c.npy", [], "holds 2 arrays (factors, codes): name one"),
    ("f.npy", "c_inf.npy", [], "codes contains NaN or infinity in column 2"),
    ("f.npy", "c_short.npy", [], "same number of samples"),
    ("ragged.csv", "c.npy", [], "row 2 has 1 fields, expected 2"),
    ("f.xlsx", "c.npy", [], "unknown format '.xlsx'"),
    ("f.npy", "c.npy", ["--metrics", "mig,bogus"], "unknown metric 'bogus'"),
    ("f.npy", "c.npy", ["--metrics", "sap", "--plot", "x.png"], "nothing to plot"),
    ("f.npy", "c.npy", ["--metrics", "mig", "--json", "/nonexistent/dir/r.json"], "No such file"),
    ("f.npy", "c.npy", ["--threads", "0"], "n_threads must be"),
])
def test_evaluate_errors_exit_2_with_one_line(files, factors, codes, extra, message):
    d, _ = files
    out = run("evaluate", str(d / factors), str(d / codes), *extra)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastdis: error: ") and message in lines[0], out.stderr


def test_csv_header_detection(tmp_path):
    """A first row of names is found above numbers and above text labels (names do not
    recur down a column, labels do); --header yes/no overrides the guess."""
    from fastdis.__main__ import UsageError, read_array

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
        array, got = read_array(str(tmp_path / name))
        assert got == names, name
        assert array.tolist() == values, name
    array, got = read_array(str(tmp_path / "labels.csv"), header="no")
    assert got is None and array.shape == (4, 2)
    array, got = read_array(str(tmp_path / "no_header.csv"), header="yes")
    assert got == ["square", "small"] and array.shape == (2, 2)
    (tmp_path / "only.csv").write_text("a,b\n")
    with pytest.raises(UsageError, match="a header and no rows"):
        read_array(str(tmp_path / "only.csv"), header="yes")
