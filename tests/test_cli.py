"""The fastdis command, run as a user would."""
import pathlib
import subprocess
import sys

import pytest

import fastdis


def run(*args):
    # outside the source tree, so that the installed package (with its extension) is used
    return subprocess.run([sys.executable, "-m", "fastdis", *args], capture_output=True,
                          text=True, timeout=120, cwd=pathlib.Path(__file__).parent / "data")


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fastdis {fastdis.__version__}"


def test_list_names_every_metric():
    out = run("list")
    assert out.returncode == 0
    for name in ("mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig", "z_diff",
                 "z_min_var", "z_max_var", "irs", "sap", "explicitness"):
        assert name in out.stdout


@pytest.mark.parametrize("encoder", ["perfect", "noise"])
def test_demo_small(encoder):
    out = run("demo", "--small", "--encoder", encoder)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()[2:]}
    assert set(rows) == {"mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig", "z_diff",
                         "z_min_var", "z_max_var", "irs", "sap", "explicitness"}
    if encoder == "perfect":
        assert rows["mig"] > 0.7 and rows["z_min_var"] > 0.9
    else:
        assert rows["mig"] < 0.05 and abs(rows["z_min_var"]) < 0.3


def test_bad_arguments_exit_2_without_traceback():
    out = run("demo", "--encoder", "bogus")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "invalid choice" in out.stderr
