"""The information metrics on data larger than memory: .npy shards on disk read through Dask
by a 2-worker LocalCluster, against in-memory fastdis on 10x fewer rows, alternated.

    python benchmarks/dask_scale.py --dir /path/with/5GB/free [--rows 100000000]

Data (written once, reused): K = 5 int8 factors of 10 values and d = 10 float32 codes (the
first 5 = factor + N(0, 1) noise, the rest noise), in shards of 10^7 rows
(``factors/part*.npy``, ``codes/part*.npy``; 4.5 GB at 10^8 rows). Reported: seconds per
call, rows per second, their ratio (goal >= 0.7), and each worker's peak resident memory
(goal < 1 GiB). Every run is appended to ``benchmarks/results/dask_scale.json``.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import time

import numpy as np

SHARD = 10_000_000
K, D = 5, 10
RESULTS = os.path.join(os.path.dirname(__file__), "results", "dask_scale.json")


def write_shards(folder, n_rows):
    """The data set in shards (skipped when already there with the right row count)."""
    from numpy.lib.format import open_memmap

    for part in ("factors", "codes"):
        os.makedirs(os.path.join(folder, part), exist_ok=True)
    for i, r0 in enumerate(range(0, n_rows, SHARD)):
        n = min(SHARD, n_rows - r0)
        paths = [os.path.join(folder, p, f"part{i:04d}.npy") for p in ("factors", "codes")]
        if all(os.path.exists(p) for p in paths) and \
                np.load(paths[1], mmap_mode="r").shape == (n, D):
            continue
        rng = np.random.default_rng(i)
        f = open_memmap(paths[0], mode="w+", dtype=np.int8, shape=(n, K))
        z = open_memmap(paths[1], mode="w+", dtype=np.float32, shape=(n, D))
        for s0 in range(0, n, 1_000_000):
            s1 = min(n, s0 + 1_000_000)
            fi = rng.integers(0, 10, (s1 - s0, K), dtype=np.int8)
            f[s0:s1] = fi
            z[s0:s1] = rng.standard_normal((s1 - s0, D), dtype=np.float32)
            z[s0:s1, :K] += fi
        f.flush()
        z.flush()
        del f, z


def _evaluate_all(args, client, cluster, factors, codes, f_mem, z_mem):
    """evaluate('all') on the Dask arrays, then in memory on the first rows."""
    import fastdis

    t = time.perf_counter()
    report = fastdis.evaluate(factors, codes, "all")
    chunked = time.perf_counter() - t
    workers = client.run(peak_rss_mib)
    client.close()
    cluster.close()
    t = time.perf_counter()
    memory = fastdis.evaluate(f_mem, z_mem, "all")
    row = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), kind="evaluate all",
               machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               load=os.getloadavg()[0], rows=args.rows, memory_rows=args.memory_rows,
               dask_s=chunked, in_memory_s=time.perf_counter() - t,
               dask_seconds=report.times, in_memory_seconds=memory.times,
               caller_peak_rss_mib=peak_rss_mib(), worker_peak_rss_mib=sorted(workers.values()),
               errors=report.errors)
    print(json.dumps(row, indent=1))
    with open(RESULTS, "a") as out:
        out.write(json.dumps(row) + "\n")


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="folder for the shards (needs ~45 B/row)")
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--memory-rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--all", action="store_true",
                        help="instead: evaluate('all') once on the Dask arrays (workers of 4 GiB) "
                             "and once in memory on --memory-rows rows")
    args = parser.parse_args()

    import dask
    import distributed

    import fastdis
    from fastdis._cli_lazy import read_lazy_pair

    t0 = time.perf_counter()
    write_shards(args.dir, args.rows)
    print(f"shards ready in {time.perf_counter() - t0:.1f} s")
    f_mem = np.load(os.path.join(args.dir, "factors", "part0000.npy"))[:args.memory_rows]
    z_mem = np.load(os.path.join(args.dir, "codes", "part0000.npy"))[:args.memory_rows]
    factors, codes = read_lazy_pair((os.path.join(args.dir, "factors"), None, "factors"),
                                    (os.path.join(args.dir, "codes"), None, "codes"))
    assert factors.shape[0] == args.rows

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None,
                                       memory_limit="4GiB" if args.all else "2GiB")
    client = distributed.Client(cluster)
    if args.all:
        return _evaluate_all(args, client, cluster, factors, codes, f_mem, z_mem)
    memory, chunked, values = [], [], {}
    for _ in range(args.rounds):
        with dask.config.set(scheduler="threads"):  # in memory: no Dask involved
            t = time.perf_counter()
            r = fastdis.evaluate(f_mem, z_mem, "information", n_threads=2)
            memory.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = fastdis.evaluate(factors, codes, "information")
        chunked.append(time.perf_counter() - t)
        values = {k: report[k] for k in report}
        print(f"in memory {args.memory_rows:.0e} rows {memory[-1]:.2f} s; "
              f"Dask {args.rows:.0e} rows {chunked[-1]:.2f} s")
    workers = client.run(peak_rss_mib)
    client.close()
    cluster.close()
    m, c = statistics.median(memory), statistics.median(chunked)
    ratio = (args.rows / c) / (args.memory_rows / m)
    row = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               load=os.getloadavg()[0], rows=args.rows, memory_rows=args.memory_rows,
               in_memory_s=memory, dask_s=chunked, rows_per_s_memory=args.memory_rows / m,
               rows_per_s_dask=args.rows / c, ratio=ratio,
               worker_peak_rss_mib=sorted(workers.values()), values=values)
    print(json.dumps(row, indent=1))
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "a") as out:
        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
