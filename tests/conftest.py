import json
import os
import pathlib
import signal
import subprocess
import time
import warnings

import numpy as np
import pytest

import fastdis

DATA = pathlib.Path(__file__).parent / "data"
# the directory holding the fastdis under test, so that child processes import it too
PACKAGE_PARENT = pathlib.Path(fastdis.__file__).resolve().parent.parent
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


def child_env(*paths, **variables):
    """os.environ for a child Python that imports the fastdis under test (not another
    installed copy), with ``paths`` after it on PYTHONPATH and ``variables`` set."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_PARENT), *map(str, paths)]),
                **variables)


def interrupt_when_ready(argv, delay, timeout, **popen):
    """Start ``argv``, wait for its "ready" line, let it run ``delay`` seconds, send SIGINT.

    Returns (stdout after "ready", stderr, return code, seconds from SIGINT to its exit)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)
    try:
        ready = proc.stdout.readline().strip()
        assert ready == "ready", proc.stderr.read()[-3000:]
        time.sleep(delay)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
        return out, err, proc.returncode, time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def cluster_client():
    """A LocalCluster of 2 worker processes, started once for every test that needs one."""
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a cluster's start-up notes (ports, ...)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        c = distributed.Client(cluster, set_as_default=False)
    yield c
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c.close()
        cluster.close()


@pytest.fixture
def client(cluster_client):
    """The 2-process cluster, the default scheduler inside the test only."""
    with cluster_client.as_current():
        yield cluster_client
