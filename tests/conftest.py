import json
import pathlib

import numpy as np
import pytest

DATA = pathlib.Path(__file__).parent / "data"
CASES = ("axis_aligned", "entangled", "partial", "sampled")


@pytest.fixture(scope="session")
def reference():
    """Values the reference implementations compute on the golden cases (tests/data/README.md)."""
    with open(DATA / "reference.json") as f:
        return json.load(f)["cases"]


def load_case(name):
    with np.load(DATA / f"{name}.npz") as z:
        return z["factors"], z["codes"]


def grid(sizes, repeat=1):
    """Every combination of factor values, as an (n, len(sizes)) int64 array."""
    mesh = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    f = np.stack([m.ravel() for m in mesh], axis=1).astype(np.int64)
    return np.repeat(f, repeat, axis=0)
