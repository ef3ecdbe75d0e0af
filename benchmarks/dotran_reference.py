"""fastdis's posterior estimators beside Do & Tran's own code (ICLR 2020), run as published.

Do & Tran's repository (``clarken92/DisentanglementMetrics``) is set up outside this one and
run in its own worker process and environment (``_dotran_worker.py``), with only the
substitutions of ``tests/data/dotran/REFERENCE_NOTES.md`` section 2 (its CuPy calls on numpy;
the quantised scripts' ``main()`` from their own source with the dSprites / TF model block
replaced by the arrays). fastdis runs in a second worker from this checkout. The driver
alternates the two call by call on the same arrays, round after round, and records wall time
(``time.perf_counter`` around the one call) and a few output values of each.

Setting up the reference (outside this repository; nothing of it is copied here)::

    git clone <GitHub: clarken92/DisentanglementMetrics> /work/refs/dotran
    git -C /work/refs/dotran checkout ada6b5ecedf1abe8a0268a0f2bee5c6c701ae104  # as reference.json
    python -m venv --system-site-packages /work/refs/dotran-venv   # fastdis's numpy
    /work/refs/dotran-venv/bin/pip install six tqdm                # sampling.py's other imports

    python benchmarks/dotran_reference.py --dotran /work/refs/dotran \\
        --dotran-python /work/refs/dotran-venv/bin/python

What is compared (reference call -> fastdis call, the public API of ../shared/API.md):

- ``6a``: ``6a_informativeness_metrics_v3.py`` main(), 100 bins on [-4, 4] ->
  ``informativeness(mu, std=std, estimator="quantized", convention="do_tran", n_bins=100)``.
- ``7a``: ``7a_interpretability_metrics_v2.py`` main(), 200 bins (the paper's runs) ->
  ``interpretability(factors, mu, std=std, estimator="quantized", convention="do_tran",
  n_bins=200)``.
- ``9a``: ``9a_independence_metrics.py`` main(), 100 bins, ``top_k=-1`` (its 6a inputs made
  first, outside the timing) -> ``separability(mu, std=std, estimator="quantized",
  convention="do_tran", n_bins=100)`` (its ``pairwise``: the authors' 9a numbers).
- ``sepin`` / ``sep``: ``utils/metrics/sampling.py`` ``estimate_SEPIN_cupy`` /
  ``estimate_SEP_cupy`` (batch 20, as run configs 15b / 12b) -> ``separability(mu, std=std,
  estimator="sampling", n_samples=S, random_state=seed, pairwise=False / True)`` (SEPIN's
  function computes no pairwise I(z_i; z_j), SEP's does).
- ``jemmig``: ``estimate_JEMMIG_cupy`` (batch 10, run config 14b) -> ``interpretability(factors,
  mu, std=std, estimator="sampling", n_samples=S, random_state=seed)``.

The sampling calls use fastdis's default convention (the paper's definitions: its own draws,
closed-form H(z_i | x), no clips), so their values agree with the reference's within the seed
spread only; ``--sampling-convention do_tran`` replays the authors' draws instead (values
equal to ~1e-5 per seed).

The seed of round r is r on both sides. The quantised scripts' timings include their own file
writes (the z_data load, the N x B probability files), as a user running them pays. Data: the
synthetic generator below (like the golden case ``redundant``), plus the golden case itself
(N = 4,000, S = 10,000) for one SEPIN call. Before the benchmark (``--verify-only``: alone), a full
run runs the reference on ``tests/data/dotran/redundant.npz`` and compares every output with
``reference.json``: proof that the harness calls the real code as that file's values were made.

Results: ``benchmarks/results/reference_dotran.json`` (both implementations' runs, the
machine, load averages, the verification); a markdown table on stdout; ``--report-only``
prints it again. ``--reference-only`` times the reference alone.
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results" / "reference_dotran.json"
GOLDEN = HERE.parent / "tests" / "data" / "dotran"
sys.path.insert(0, str(HERE))
from reference import Worker, machine  # noqa: E402  (shared with the other references)

# (case, {rows: rounds} or {"redundant": rounds}, S samples, B bins, fastdis counterpart?)
CASES = [
    ("6a", {10_000: 3, 100_000: 3}, None, 100, True),
    ("7a", {10_000: 3, 100_000: 3}, None, 200, True),
    ("9a", {10_000: 3, 100_000: 1}, None, 100, True),
    ("jemmig", {10_000: 3}, 1_000, None, True),
    ("sep", {10_000: 3}, 1_000, None, True),
    ("sepin", {10_000: 3}, 1_000, None, True),
    ("sepin", {"redundant": 1}, 10_000, None, True),
]
LABELS = {"6a": "6a informativeness", "7a": "7a interpretability", "9a": "9a independence",
          "sepin": "estimate_SEPIN_cupy", "sep": "estimate_SEP_cupy",
          "jemmig": "estimate_JEMMIG_cupy"}
VALUES = {"6a": "mean I(x;z_i) / mean H(z_i)", "7a": "RMIG / JEMMIG (normalised)",
          "9a": "mean pairwise 'MI'", "sepin": "WSEPIN / WSEP / WINDIN", "sep": "SEP",
          "jemmig": "RMIG / mean JEMMIG"}


def synthetic(n, seed=20261129):
    """K = 5 factors (4, 6, 3, 10, 16 values), d = 10 codes, like the golden case
    ``redundant``: codes 0-4 one factor each, 7 a second copy of factor 3, 6 = f0 - f4,
    9 = f1 * f2 with wide posteriors, 5 and 8 dead (the prior). Std per row and code."""
    rng = np.random.default_rng(seed)
    sizes = np.array([4, 6, 3, 10, 16])
    factors = np.stack([rng.integers(0, s, n) for s in sizes], axis=1).astype(np.int64)
    u = 2.0 * factors / (sizes - 1.0) - 1.0  # factor values mapped to [-1, 1]

    def std(lo, hi):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))

    def noise(s):
        return rng.normal(0.0, s, n)
    dead = (rng.normal(0.0, 0.02, n), rng.uniform(0.95, 1.0, n))
    cols = [(1.8 * u[:, 0] + noise(0.05), std(0.05, 0.3)),
            (2.2 * u[:, 1] + noise(0.05), std(0.05, 0.3)),
            (1.5 * u[:, 2] + noise(0.05), std(0.1, 0.3)),
            (2.0 * u[:, 3] + noise(0.05), std(0.05, 0.2)),
            (2.4 * np.tanh(2.0 * u[:, 4]) + noise(0.05), std(0.05, 0.2)),
            dead,
            (u[:, 0] - 1.3 * u[:, 4] + noise(0.05), std(0.1, 0.6)),
            (-1.7 * u[:, 3] + 0.2 * u[:, 3] ** 2 + noise(0.08), std(0.1, 0.4)),
            (rng.normal(0.0, 0.02, n), rng.uniform(0.95, 1.0, n)),
            (1.5 * u[:, 1] * u[:, 2] + noise(0.05), std(0.2, 1.0))]
    return factors, np.stack([c[0] for c in cols], 1), np.stack([c[1] for c in cols], 1)


def _worker(kind, python, path, log):
    """A worker running ``_dotran_worker.py`` (its stderr into ``log``)."""
    return Worker(kind, python, path, script=HERE / "_dotran_worker.py", args=(), log=log)


def _max_diff(ours, theirs):
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    ok = np.isfinite(b)  # 9a leaves its diagonal at -1 in both; nothing else is non-finite
    return float(np.max(np.abs(a[ok] - b[ok]))) if ok.any() else 0.0


# (reference.json group, entry, case, bins/S, tolerance on the max abs difference per quantity)
_CHECKS = [("quantised", "informativeness", "6a", 100, 1e-6),
           ("quantised", "interpretability_bins200", "7a", 200, 1e-5),
           ("quantised", "interpretability_bins100", "7a", 100, 1e-5),
           ("quantised", "independence", "9a", 100, 1e-5),
           ("sampling", "JEMMIG", "jemmig", 10_000, 1e-6),
           ("sampling", "SEPIN", "sepin", 10_000, 1e-6),
           ("sampling", "SEP", "sep", 10_000, 1e-6)]
_KEYS = {"MI_pair_mat": "MI_z1z2_mean_mat", "H_pair_mat": "H_z1z2_mean_mat", "order": "z1z2_ids"}
# reference.json's derived quantities, recomputed from the outputs as its notes say
_DERIVED = {
    "RMIG": lambda o: np.mean(o["RMIG"]), "JEMMIG_norm": lambda o: np.mean(o["JEMMI"]),
    "JEMMIG_unnorm_yk": lambda o: (np.float32(o["H_z_y_sorted"][0]) - np.float32(
        o["MI_z_y_sorted"][0]) + np.float32(o["MI_z_y_sorted"][1])),
    "SEPIN_mean": lambda o: np.mean(o["SEPIN_zi"]), "INDIN_mean": lambda o: np.mean(o["INDIN_zi"]),
    "TC": lambda o: np.sum(o["H_zi"]) - np.asarray(o["H_z"]),
    "JEMMIG_mean": lambda o: np.mean(o["JEMMIG_yk"]),
    # 7a's ranking of the codes below the top two (which RMIG / JEMMIG read) is not defined
    # within float32 noise: two dead codes (I ~ 8e-7 and 7e-7) swap with this numpy's OpenBLAS
    "ids_sorted": lambda o: np.asarray(o["ids_sorted"])[:2]}
_DERIVED_WANT = {"ids_sorted": lambda v: np.asarray(v)[:2]}


def verify(worker):
    """The reference on the golden case ``redundant`` against reference.json (seed 0)."""
    expected = json.loads((GOLDEN / "reference.json").read_text())["redundant"]
    data = str(GOLDEN / "redundant.npz")
    out, ok = {}, True
    for group, entry, case, size, tol in _CHECKS:
        job = {"case": case, "data": data, "full": True, "seed": 0,
               "bins" if group == "quantised" else "S": size}
        a = worker.call(job)
        if "error" in a:
            out[entry] = {"error": a["error"]}
            ok = False
            continue
        diffs = {}
        for name, q in expected[group][entry]["quantities"].items():
            if not isinstance(q, dict):  # e.g. the per-seed rankings list
                continue
            want = q["values"][0] if "values" in q else q["value"]
            key = q.get("reference_key") or _KEYS.get(name, name)
            if name in _DERIVED_WANT:
                diffs[name] = _max_diff(_DERIVED[name](a["full"]), _DERIVED_WANT[name](want))
            elif not q.get("reference_key") and name in _DERIVED:
                diffs[name] = _max_diff(_DERIVED[name](a["full"]), want)
            elif key in a["full"]:
                diffs[name] = _max_diff(a["full"][key], want)
        worst = max(diffs.values())
        out[entry] = {"case": case, "seconds": a["time"], "max_abs_diff": diffs,
                      "tolerance": tol, "pass": worst <= tol}
        ok &= worst <= tol
        print(f"verify {entry:26s} {a['time']:8.2f} s  max |diff| {worst:.2e} over "
              f"{len(diffs)} quantities ({'ok' if worst <= tol else 'FAILED'})", flush=True)
    return {"case": "redundant", "seed": 0, "pass": ok, "checks": out}


def _save(path, recs, session, versions, verification, ref_path):
    """Merge into ``path``: this run's (impl, case, data, S, bins) replace the saved ones."""
    old = json.loads(path.read_text()) if path.exists() else {"runs": [], "sessions": []}

    def key(r):
        return r["impl"], r["case"], r["data"], r["S"], r["bins"], r.get("convention")
    mine = {key(r) for r in recs}
    runs = [r for r in old["runs"] if key(r) not in mine] + recs
    sessions = [s for s in old["sessions"] if s["start"] != session["start"]] + [session]
    path.write_text(json.dumps({"impl": "dotran", "machine": machine(), "path": ref_path,
                                "versions": versions, "sessions": sessions,
                                "verification": verification or old.get("verification"),
                                "runs": runs}, indent=1) + "\n")


def run(args, out):
    cases = [] if args.verify_only else [c for c in CASES if args.only is None
                                          or c[0] in args.only]
    if args.quick:
        cases = [(c, {args.quick: 1}, s and min(s, 200), b, f)
                 for c, sizes, s, b, f in cases if "redundant" not in sizes]
    session = {"start": machine()["date"], "loadavg_before": os.getloadavg(),
               "quick": args.quick, "reference_only": args.reference_only or args.verify_only,
               "verify_only": args.verify_only, "note": args.note}
    recs, verification = [], None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        log = open(tmp / "workers.log", "w")
        workers = {"reference": _worker("reference", args.dotran_python, args.dotran, log)}
        if not (args.reference_only or args.verify_only):
            workers["fastdis"] = _worker("fastdis", sys.executable, None, log)
        versions = {k: w.versions for k, w in workers.items()}
        try:
            if not args.quick and not args.skip_verify:
                verification = verify(workers["reference"])
                verification["date"] = machine()["date"]
            for case, sizes, S, bins, has_fastdis in cases:
                for n, rounds in sizes.items():
                    if n == "redundant":
                        data = str(GOLDEN / "redundant.npz")
                    else:
                        data = str(tmp / f"synthetic_{n}.npz")
                        if not pathlib.Path(data).exists():
                            np.savez(data, **dict(zip(("factors", "mu", "std"), synthetic(n))))
                    rows, d = np.load(data)["mu"].shape
                    impls = [k for k in workers if k == "reference" or has_fastdis]
                    for r in range(rounds):
                        job = {"case": case, "data": data, "S": S, "bins": bins, "seed": r,
                               "warmup": r == 0, "convention": S and args.sampling_convention}
                        for impl in impls:  # alternate, call by call
                            a = workers[impl].call(job)
                            recs.append(dict(impl=impl, case=case, data=pathlib.Path(data).stem,
                                             n=int(rows), d=int(d), S=S, bins=bins,
                                             convention=job["convention"], round=r,
                                             loadavg=os.getloadavg()[0],
                                             versions=versions[impl], **a))
                            print(f"{impl:9s} {case:6s} N={rows:>7d} S={S} B={bins} r{r} "
                                  f"{a.get('time', float('nan')):9.3f} s "
                                  f"{a.get('value', a.get('error'))}", flush=True)
                            _save(out, recs, dict(session, loadavg_after=None), versions,
                                  verification, str(args.dotran))
        finally:
            for w in workers.values():
                w.close()
            log.close()
            if any("error" in r for r in recs):
                print(f"worker output ({log.name}), last lines:\n"
                      + "".join(open(log.name).readlines()[-30:]), file=sys.stderr)
    session["loadavg_after"] = os.getloadavg()
    _save(out, recs, session, versions, verification, str(args.dotran))


def _median(recs):
    ok = [r for r in recs if "time" in r]
    return (statistics.median(r["time"] for r in ok), ok[-1]["value"]) if ok else (None, None)


def _fmt(x):
    if x is None:
        return "-"
    if isinstance(x, list):
        return " / ".join(f"{v:.4f}" for v in x)
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def report(path=RESULTS):
    if not path.exists():
        sys.exit(f"no saved results ({path}): run without --report-only first")
    data = json.loads(path.read_text())
    m = data["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    for s in data["sessions"]:
        after = s["loadavg_after"] and f"{s['loadavg_after'][0]:.2f}"
        print(f"- run started {s['start']}: load average before {s['loadavg_before'][0]:.2f}, "
              f"after {after}" + (" (verification only)" if s.get("verify_only") else
                                  " (reference only)" if s.get("reference_only") else "")
              + (f"; {s['note']}" if s.get("note") else ""))
    for impl, v in data["versions"].items():
        print(f"- {impl}: " + ", ".join(f"{k} {x}" for k, x in v.items()))
    ver = data.get("verification")
    if ver:
        print(f"- reference checked against tests/data/dotran/reference.json ({ver['case']}, "
              f"seed 0, {ver['date']}): {'all within tolerance' if ver['pass'] else 'FAILED'}")
        for entry, c in ver["checks"].items():
            if "error" in c:
                print(f"  * {entry}: {c['error']}")
            else:
                print(f"  * {entry}: max |diff| {max(c['max_abs_diff'].values()):.1e} "
                      f"(tolerance {c['tolerance']:.0e}; {c['seconds']:.1f} s)")
    print("load: the mean 1-minute load average recorded after the case's calls")
    print("\n| reference call | N | d | S / B | reference (median) | fastdis (median) | ratio "
          "| rounds | load | values | reference | fastdis |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = []
    for r in data["runs"]:
        k = (r["case"], r["data"], r["S"], r["bins"], r.get("convention"))
        if k not in keys:
            keys.append(k)
    for k in keys:
        recs = [r for r in data["runs"]
                if (r["case"], r["data"], r["S"], r["bins"], r.get("convention")) == k]
        ref = [r for r in recs if r["impl"] == "reference"]
        fd = [r for r in recs if r["impl"] == "fastdis"]
        (t_r, v_r), (t_f, v_f) = _median(ref), _median(fd)
        if fd and t_f is None:
            v_f = fd[-1].get("error")
        ratio = f"{t_r / t_f:.0f}x" if t_r and t_f else "-"
        size = f"S={k[2]:,}" if k[2] else f"B={k[3]}"
        label = LABELS[k[0]] + (" (golden case)" if k[1] == "redundant" else "") \
            + (f" (fastdis {k[4]})" if k[4] else "")
        print(f"| {label} | {recs[0]['n']:,} | {recs[0]['d']} | {size} | {_fmt(t_r)} | "
              f"{_fmt(t_f)} | {ratio} | {sum('time' in r for r in ref)} | "
              f"{statistics.mean(r['loadavg'] for r in recs):.1f} | {VALUES[k[0]]} | "
              f"{_fmt(v_r)} | {v_f if isinstance(v_f, str) else _fmt(v_f)} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dotran", type=pathlib.Path, help="Do & Tran's repository root")
    p.add_argument("--dotran-python", default=sys.executable,
                   help="interpreter of the reference's environment (default: this one)")
    p.add_argument("--only", nargs="+", choices=sorted(LABELS), help="cases to run")
    p.add_argument("--sampling-convention", choices=["do_tran"],
                   help="fastdis's convention in the sampling calls (default: the paper's)")
    p.add_argument("--reference-only", action="store_true", help="time the reference alone")
    p.add_argument("--skip-verify", action="store_true",
                   help="skip the check against reference.json before the benchmark")
    p.add_argument("--verify-only", action="store_true",
                   help="only the check against reference.json (saved with the results)")
    p.add_argument("--quick", nargs="?", type=int, const=2000, metavar="N",
                   help="smoke test: every case once at N rows (default 2,000), S <= 200, "
                        "no verification; results not saved")
    p.add_argument("--note", help="a line saved with this run's session (e.g. which build)")
    p.add_argument("--report-only", action="store_true")
    a = p.parse_args()
    if not a.report_only:
        if not a.dotran:
            p.error("give --dotran PATH (Do & Tran's repository)")
        if a.quick:  # a smoke test's numbers are not results
            with tempfile.TemporaryDirectory() as t:
                run(a, pathlib.Path(t) / "reference_dotran.json")
                report(pathlib.Path(t) / "reference_dotran.json")
            sys.exit(0)
        run(a, RESULTS)
    report()
