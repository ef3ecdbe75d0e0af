"""Run every benchmark implementation in its own process and print the README table.

    python benchmarks/run.py                 # run, save benchmarks/results/*.json, print table
    python benchmarks/run.py --report-only   # print the table from the saved JSON
    python benchmarks/run.py --only predictor  # one benchmark file
"""
import argparse
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
RESULTS = HERE / "results"
IMPLS = ["fastdis_2threads", "fastdis_range_2threads", "fastdis_1thread", "fast_histogram", "dlib"]


def _pytest(bench, selection, out):
    cmd = [sys.executable, "-m", "pytest", str(HERE / bench), "--benchmark-only", "-q",
           "-p", "no:cacheprovider", "-k", selection, f"--benchmark-json={out}"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def run(only=None):
    """Each implementation in its own process, so that none inherits another's caches."""
    RESULTS.mkdir(exist_ok=True)
    if only in (None, "intervention"):
        _pytest("bench_intervention.py", "fastdis or sampler", RESULTS / "intervention_fastdis.json")
        _pytest("bench_intervention.py", "numpy", RESULTS / "intervention_numpy.json")
    if only in (None, "mutual_info"):
        for impl in IMPLS:
            _pytest("bench_mutual_info.py", impl, RESULTS / f"mutual_info_{impl}.json")
    if only in (None, "predictor"):
        _pytest("bench_predictor.py", "fastdis", RESULTS / "predictor_fastdis.json")
        _pytest("bench_predictor.py", "reference", RESULTS / "predictor_reference.json")


def machine():
    from reference import machine as facts  # benchmarks/ is on sys.path: this script's folder

    m = facts()
    return f"{m['cpu']}, {m['cores']} cores, Python {m['python']}"


def report():
    medians = {}
    for path in sorted(RESULTS.glob("mutual_info_*.json")):
        for b in json.loads(path.read_text())["benchmarks"]:
            medians[(b["extra_info"]["impl"], b["extra_info"]["n"])] = b["stats"]["median"]
    sizes = sorted({n for _, n in medians})
    print(f"Machine: {machine()}\n")
    print("| N | fastdis 2 threads | fastdis 2 threads, known code_range | fastdis 1 thread "
          "| fast-histogram loop | dlib procedure | rows/s (fastdis, 2 threads) "
          "| rows/s (known range) | vs fast-histogram | vs dlib |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        fd2 = medians.get(("fastdis_2threads", n))
        cells = []
        for impl in IMPLS:
            t = medians.get((impl, n))
            cells.append(f"{t:.3f} s" if t is not None else "not run")
        fh, dl = medians.get(("fast_histogram", n)), medians.get(("dlib", n))
        ratio = lambda t: f"{t / fd2:.0f}x" if t is not None and fd2 else "-"  # noqa: E731
        rate = f"{n / fd2 / 1e6:.1f} M" if fd2 else "-"
        fdr = medians.get(("fastdis_range_2threads", n))
        rate_r = f"{n / fdr / 1e6:.1f} M" if fdr else "-"
        print(f"| {n:.0e} | " + " | ".join(cells) + f" | {rate} | {rate_r} | {ratio(fh)} | {ratio(dl)} |")


def report_intervention():
    medians = {}
    for path in sorted(RESULTS.glob("intervention_*.json")):
        for b in json.loads(path.read_text())["benchmarks"]:
            e = b["extra_info"]
            medians[(e["impl"], e["metric"], e["n"])] = b["stats"]["median"]
    if not medians:
        return
    print("\n| metric | N | fastdis | numpy procedure | ratio |")
    print("|---|---|---|---|---|")
    for metric, n in sorted({(m, n) for _, m, n in medians}):
        fd, npy = medians.get(("fastdis", metric, n)), medians.get(("numpy", metric, n))
        ratio = f"{npy / fd:.0f}x" if fd and npy else "-"
        cell = lambda t: f"{t:.3f} s" if t is not None else "not run"  # noqa: E731
        print(f"| {metric} | {n:.0e} | {cell(fd)} | {cell(npy)} | {ratio} |")


def report_predictor():
    rows = {}
    for path in sorted(RESULTS.glob("predictor_*.json")):
        for b in json.loads(path.read_text())["benchmarks"]:
            e = b["extra_info"]
            rows[(e["impl"], e["metric"], e["n"])] = (b["stats"]["median"], e.get("value"))
    if not rows:
        return
    print("\n| metric | N | fastdis | reference procedure | ratio | score: fastdis | score: reference |")
    print("|---|---|---|---|---|---|---|")
    # the fast DCI option is timed against disentanglement_lib's gradient boosting
    base = {"dci (hist_gradient_boosting)": "dci (dlib GBT)"}
    for impl, metric, n in sorted(rows, key=lambda r: (r[2], r[1])):
        if impl != "fastdis":
            continue
        t, v = rows[impl, metric, n]
        ref = rows.get(("reference", base.get(metric, metric), n))
        ratio = "-" if not ref else f"{ref[0] / t:.1f}x" if ref[0] < 10 * t else f"{ref[0] / t:.0f}x"
        ref_time, ref_score = (f"{ref[0]:.2f} s", f"{ref[1]:.3f}") if ref else ("-", "-")
        print(f"| {metric} | {n:.0e} | {t:.2f} s | {ref_time} | {ratio} | {v:.3f} | {ref_score} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--only", choices=["mutual_info", "intervention", "predictor"],
                        help="run one benchmark file (the others' saved results are reported)")
    args = parser.parse_args()
    if not args.report_only:
        run(args.only)
    report()
    report_intervention()
    report_predictor()
