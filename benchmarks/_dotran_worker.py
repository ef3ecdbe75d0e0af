"""Worker process of ``dotran_reference.py``: Do & Tran's own code, or fastdis, on saved arrays.

The reference side runs in the reference's environment (``--python``) from its repository as
fetched (``--path``); nothing of it is copied here. Exactly the substitutions of
``tests/data/dotran/REFERENCE_NOTES.md`` section 2, and no others:

1. ``cupy`` is a stand-in module made here (every attribute forwards to numpy,
   ``asnumpy = numpy.asarray``, ``cuda.Device(...)`` a no-op context), so that
   ``utils/metrics/sampling.py`` and ``utils/general.py`` import unmodified.
2. The quantised scripts (6a, 7a, 9a) run their own ``main()`` compiled from their own source,
   with one block replaced: from ``# Dataset`` to ``train_helper.load(...)`` (dSprites, the TF
   model, the session) becomes ``y_train = <factors with a constant column 0 in front>`` and
   ``num_train = N``. The means and stddevs reach ``main()`` through its own "z_data file
   exists -> load it" branch (the file is written here, float64). ``config.json`` gives
   ``z_dim``, ``enc_dec_model = "1Konny"``, ``run``. The module-level imports of tensorflow,
   ``models.*`` and ``my_utils.tensorflow_utils.*`` (used only by the replaced block) are skipped.
3. The statement ``np.set_printoptions(threshold=np.nan, ...)`` is dropped (printing only;
   current numpy rejects a NaN threshold).
4. In 7a, the hard-coded dSprites ``gt_factors`` / ``gt_num_values`` become the case's.

Every replacement is checked to apply exactly once, so a different revision of the scripts
fails loudly instead of running something else. Protocol: one JSON job per line on stdin, one
JSON answer per line on stdout; whatever the code prints goes to stderr.
"""
import argparse
import ast
import contextlib
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import types

import numpy as np

SCRIPTS = pathlib.Path("working/disentanglement/dSprites/FactorVAE/exp_4_paper")
FILES = {"6a": "6a_informativeness_metrics_v3.py", "7a": "7a_interpretability_metrics_v2.py",
         "9a": "9a_independence_metrics.py"}
# module-level imports needed only by the replaced model-loading block
_SKIPPED_IMPORTS = ("tensorflow", "models.", "my_utils.tensorflow_utils")
_RESULT = "results[bins={b},bin_limits=(-4.0, 4.0),data=1.0{k}].npz"


def install_cupy_standin():
    """Substitution 1: a module named ``cupy`` that is numpy, on the CPU."""
    cupy = types.ModuleType("cupy")
    cupy.__getattr__ = lambda name: getattr(np, name)  # PEP 562: every cupy.<fn> is numpy.<fn>
    cupy.asnumpy = np.asarray
    cuda = types.ModuleType("cupy.cuda")
    cuda.Device = lambda *args, **kwargs: contextlib.nullcontext()
    cupy.cuda = cuda
    sys.modules["cupy"], sys.modules["cupy.cuda"] = cupy, cuda


def _skipped_import(stmt):
    if isinstance(stmt, ast.Import):
        names = [a.name for a in stmt.names]
    elif isinstance(stmt, ast.ImportFrom):
        names = [stmt.module or ""]
    else:
        return False
    return any(n == "tensorflow" or n.startswith(_SKIPPED_IMPORTS) for n in names)


def load_script(repo, key):
    """Compile script ``key``'s module with substitutions 2-4: (main, parser, harness dict)."""
    path = pathlib.Path(repo) / SCRIPTS / FILES[key]
    src = path.read_text()
    lines = src.splitlines()
    tree = ast.parse(src, filename=str(path))
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    start = next(i + 1 for i in range(main.lineno, main.end_lineno)
                 if lines[i].strip() == "# Dataset")
    end = next(i + 1 for i in range(start, main.end_lineno) if "train_helper.load(" in lines[i])
    harness = ast.parse("y_train = _HARNESS['y_train']\nnum_train = _HARNESS['num_train']").body
    body, counts = [], {"block": 0, "printoptions": 0, "gt_factors": 0, "gt_num_values": 0}
    for stmt in main.body:
        text = ast.get_source_segment(src, stmt)
        if start <= stmt.lineno and stmt.end_lineno <= end:  # the model-loading block
            if not counts["block"]:
                body += harness
            counts["block"] += 1
            continue
        if "set_printoptions" in text and "np.nan" in text:
            counts["printoptions"] += 1
            continue
        if key == "7a" and isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and getattr(stmt.targets[0], "id", None) in ("gt_factors", "gt_num_values"):
            name = stmt.targets[0].id
            counts[name] += 1
            body += ast.parse(f"{name} = _HARNESS[{name!r}]").body
            continue
        body.append(stmt)
    want = {"printoptions": 1, "gt_factors": int(key == "7a"), "gt_num_values": int(key == "7a")}
    if not counts.pop("block") or counts != want:
        raise RuntimeError(f"{path}: the substitutions did not apply as expected ({counts})")
    main.body = body
    tree.body = [s for s in tree.body if not _skipped_import(s)
                 and not (isinstance(s, ast.If) and "__main__" in ast.get_source_segment(src, s))]
    ast.fix_missing_locations(tree)
    namespace = {"__name__": f"dotran_{key}", "__file__": str(path), "_HARNESS": {}}
    exec(compile(tree, str(path), "exec"), namespace)
    return namespace["main"], namespace["parser"], namespace["_HARNESS"]


class Reference:
    """Do & Tran's code from its repository at ``path``."""

    def __init__(self, path):
        self.repo = pathlib.Path(path).resolve()
        sys.path.insert(0, str(self.repo))
        install_cupy_standin()
        from utils.metrics import sampling
        self.sampling = sampling
        self.scripts = {k: load_script(self.repo, k) for k in FILES}
        self.versions = {"numpy": np.__version__, "python": sys.version.split()[0]}

    def _script(self, key, work, factors, mu, std, bins, argv=()):
        """Run script ``key``'s main() in ``work``; return (seconds, its results npz as dict)."""
        main, parser, harness = self.scripts[key]
        out, save = work / f"output_{key}", work / f"save_{key}"
        case_dir = save / "1Konny_bench"
        case_dir.mkdir(parents=True, exist_ok=True)
        out.mkdir(exist_ok=True)
        (out / "config.json").write_text(json.dumps(
            {"z_dim": mu.shape[1], "enc_dec_model": "1Konny", "run": "bench"}))
        if key != "9a":  # 9a reads the z_data of 6a's folder (argv)
            np.savez_compressed(case_dir / "z_data[data=1.0].npz", all_z_mean=mu,
                                all_z_stddev=std)
        harness.clear()
        # the constant column plays dSprites' "color": the script's y_train[:, k+1] is factor k
        harness["y_train"] = np.concatenate([np.zeros((len(factors), 1), factors.dtype),
                                             factors], axis=1)
        harness["num_train"] = len(factors)
        harness["gt_factors"] = [f"f{k}" for k in range(factors.shape[1])]
        harness["gt_num_values"] = [int(v) for v in factors.max(axis=0) + 1]
        args = parser.parse_args(["--output_dir", str(out), "--save_dir", str(save),
                                  "--num_bins", str(bins), *argv])
        t0 = time.perf_counter()
        main(args)
        seconds = time.perf_counter() - t0
        name = _RESULT.format(b=bins, k=",k=-1" if key == "9a" else "")
        with np.load(case_dir / name) as f:
            return seconds, {k: f[k] for k in f.files}

    def run(self, job, factors, mu, std):
        """One call: (seconds, the reference's outputs as a dict of arrays)."""
        case, s = job["case"], job.get("seed", 0)
        if case in ("sepin", "sep", "jemmig"):
            t0 = time.perf_counter()
            if case == "sepin":
                r = self.sampling.estimate_SEPIN_cupy(mu, std, num_samples=job["S"], seed=s,
                                                      batch_size=20)
            elif case == "sep":
                r = self.sampling.estimate_SEP_cupy(mu, std, num_samples=job["S"], seed=s,
                                                    batch_size=20)
            else:
                r = self.sampling.estimate_JEMMIG_cupy(mu, std, factors, num_samples=job["S"],
                                                       seed=s, batch_size=10)
            return time.perf_counter() - t0, r
        work = pathlib.Path(tempfile.mkdtemp(prefix=f"dotran_{case}_"))
        try:
            if case == "9a":  # 9a reads 6a's outputs: run 6a first, outside the timing
                self._script("6a", work, factors, mu, std, job["bins"])
                argv = ["--informativeness_metrics_dir", str(work / "save_6a"), "--top_k", "-1"]
                return self._script("9a", work, factors, mu, std, job["bins"], argv)
            return self._script(case, work, factors, mu, std, job["bins"])
        finally:
            shutil.rmtree(work, ignore_errors=True)  # 6a / 7a write N x B probability files

    @staticmethod
    def summary(case, r):
        """The few numbers the table shows (see dotran_reference.CASES for their names)."""
        if case == "6a":
            return [float(np.mean(r["MI_z_x"])), float(np.mean(r["H_z"]))]
        if case == "7a":
            return [float(np.mean(r["RMIG"])), float(np.mean(r["JEMMI"]))]
        if case == "9a":
            m = r["MI_z1z2_mean_mat"]
            return [float(np.mean(m[~np.eye(len(m), dtype=bool)]))]
        if case == "sepin":
            return [float(r["WSEPIN"]), float(r["WSEP"]), float(r["WINDIN"])]
        if case == "sep":
            return [float(r["SEP"])]
        return [float(r["RMIG_norm"]), float(np.mean(r["JEMMIG_yk"]))]


class Fastdis:
    """fastdis from this checkout, through the public posterior API (../shared/API.md)."""

    def __init__(self, _path):
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
        import fastdis
        self.fd = fastdis
        root = pathlib.Path(fastdis.__file__).resolve().parent.parent
        def git(*cmd):
            return subprocess.run(["git", "-C", str(root), *cmd], capture_output=True,
                                  text=True).stdout.strip()
        # "dirty": changes outside benchmarks/results, which the benchmarks themselves write
        head = git("rev-parse", "--short", "HEAD") + (
            "-dirty" if git("status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":!benchmarks/results") else "")
        self.versions = {"fastdis": fastdis.__version__, "fastdis_file": fastdis.__file__,
                         "commit": head or None, "numpy": np.__version__}

    def run(self, job, factors, mu, std):
        fd, case, s = self.fd, job["case"], job.get("seed", 0)
        conv = job.get("convention")  # of the sampling calls: None (the paper's) or "do_tran"
        t0 = time.perf_counter()
        if case == "6a":
            r = fd.informativeness(mu, std=std, estimator="quantized", convention="do_tran",
                                   n_bins=job["bins"], return_details=True)
        elif case == "7a":
            r = fd.interpretability(factors, mu, std=std, estimator="quantized",
                                    convention="do_tran", n_bins=job["bins"])
        elif case == "9a":  # "do_tran": the pairs of the authors' 9a
            r = fd.separability(mu, std=std, estimator="quantized", convention="do_tran",
                                n_bins=job["bins"])
        elif case in ("sepin", "sep"):  # estimate_SEPIN_cupy has no pairwise part, SEP's has
            r = fd.separability(mu, std=std, estimator="sampling", n_samples=job["S"],
                                random_state=s, pairwise=case == "sep", convention=conv)
        elif case == "jemmig":
            r = fd.interpretability(factors, mu, std=std, estimator="sampling",
                                    n_samples=job["S"], random_state=s, convention=conv)
        else:
            raise ValueError(f"case: fastdis has no counterpart of {case!r}")
        return time.perf_counter() - t0, r

    @staticmethod
    def summary(case, r):
        """The numbers of ``Reference.summary``, from fastdis's results."""
        if case == "6a":
            info, details = r
            return [float(np.mean(info)), float(np.mean(details["code_entropy"]))]
        if case in ("7a", "jemmig"):
            return [float(r.rmig), float(r.jemmig)]
        if case == "9a":
            m = np.asarray(r.pairwise)
            return [float(np.mean(m[~np.eye(len(m), dtype=bool)]))]
        if case == "sepin":
            return [float(r.wsepin), float(r.wsep), float(r.windin)]
        return [float(r.sep_mean)]


def _arrays(job):
    with np.load(job["data"]) as f:
        return f["factors"], np.ascontiguousarray(f["mu"]), np.ascontiguousarray(f["std"])


def serve(kind, path):
    """Answer jobs {"case", "data", "S", "bins", "seed", "warmup", "full"} on stdin."""
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the code prints must not reach the protocol
    impl = {"reference": Reference, "fastdis": Fastdis}[kind](path)
    out.write(json.dumps({"ready": impl.versions}) + "\n")
    out.flush()
    cache = (None, None)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            if cache[0] != job["data"]:
                cache = (job["data"], _arrays(job))
            factors, mu, std = cache[1]
            if job.get("warmup"):  # first call of a case: 2,000 rows, at most 100 samples
                impl.run(dict(job, S=min(job.get("S") or 0, 100)), factors[:2000], mu[:2000],
                         std[:2000])
            seconds, r = impl.run(job, factors, mu, std)
            answer = {"time": seconds, "value": impl.summary(job["case"], r)}
            if job.get("full"):  # every output, for the check against reference.json
                answer["full"] = {k: np.asarray(v).tolist() for k, v in r.items()}
        except Exception as exc:  # reported in the table; the benchmark goes on
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("kind", choices=["reference", "fastdis"])
    p.add_argument("--path", help="the reference repository's root")
    a = p.parse_args()
    serve(a.kind, a.path)
