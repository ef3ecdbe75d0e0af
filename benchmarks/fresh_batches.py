"""Z-diff and Z-min variance on fresh batches: fastdis.intervention_scores against
disentanglement_lib's own compute_beta_vae_sklearn / compute_factor_vae, same data protocol,
same encoder, the gin studies' settings (convention="dlib").

The data: dSprites' factor grid (3 x 6 x 40 x 32 x 32); an observation is its factor values
(5 floats), the encoder a fixed random linear map to 10 codes with tanh, in numpy: the
time measured is the metrics' own (sampling, batching, reductions, classifier), not a
network's. Run:

    python benchmarks/fresh_batches.py --dlib /work/refs/dlib \\
        --dlib-python /work/refs/dlib-venv/bin/python [--repeat 3] [--encode-batch-size 256]

Each side runs in its own process, alternately, ``--repeat`` times; medians are printed.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = [3, 6, 40, 32, 32]
W = np.random.default_rng(0).normal(size=(5, 10)) / 10


def encoder(x):
    return np.tanh(np.asarray(x, dtype=np.float64) @ W)


class Grid:
    """The protocol both libraries read (fastdis's and disentanglement_lib's names)."""
    factor_sizes = SIZES
    num_factors = len(SIZES)

    def sample_factors(self, n, random_state):
        if isinstance(random_state, np.random.RandomState):
            return np.stack([random_state.randint(s, size=n) for s in SIZES], axis=1)
        return np.stack([random_state.integers(0, s, n) for s in SIZES], axis=1)

    def observations(self, factors):
        return factors.astype(np.float64)

    def sample_observations_from_factors(self, factors, random_state):
        return self.observations(factors)

    def sample_observations(self, n, random_state):
        return self.observations(self.sample_factors(n, random_state))


def run_fastdis(metric, encode_batch_size):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import fastdis  # this checkout's
    t = time.perf_counter()
    value = fastdis.intervention_scores(Grid(), encoder, metric, convention="dlib",
                                        random_state=0, encode_batch_size=encode_batch_size)
    return time.perf_counter() - t, value[metric]


def run_dlib(metric, path):
    sys.path.insert(0, path)
    import logging
    logging.disable(logging.WARNING)
    from disentanglement_lib.evaluation.metrics import beta_vae, factor_vae
    rs = np.random.RandomState(0)
    t = time.perf_counter()
    if metric == "z_diff":
        out = beta_vae.compute_beta_vae_sklearn(Grid(), encoder, rs, batch_size=64,
                                                num_train=10000, num_eval=5000)
    else:
        import gin
        gin.bind_parameter("prune_dims.threshold", 0.05)
        out = factor_vae.compute_factor_vae(Grid(), encoder, rs, batch_size=64, num_train=10000,
                                            num_eval=5000, num_variance_estimate=10000)
    return time.perf_counter() - t, out["eval_accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dlib")
    parser.add_argument("--dlib-python")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--encode-batch-size", type=int, default=256)
    parser.add_argument("--metrics", nargs="+", default=["z_diff", "z_min_var"])
    parser.add_argument("--worker", choices=["fastdis", "dlib"], help=argparse.SUPPRESS)
    parser.add_argument("--metric", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        seconds, value = (run_fastdis(args.metric, args.encode_batch_size)
                          if args.worker == "fastdis" else run_dlib(args.metric, args.dlib))
        print(json.dumps(dict(seconds=seconds, value=float(value))))
        return
    here = os.path.abspath(__file__)
    root = os.path.dirname(os.path.dirname(here))
    for metric in args.metrics:
        times = {"fastdis": [], "dlib": []}
        values = {"fastdis": [], "dlib": []}
        for _ in range(args.repeat):
            for side in (["fastdis", "dlib"] if args.dlib else ["fastdis"]):
                python = sys.executable if side == "fastdis" else args.dlib_python
                cmd = [python, here, "--worker", side, "--metric", metric,
                       "--encode-batch-size", str(args.encode_batch_size)]
                if side == "dlib":
                    cmd += ["--dlib", args.dlib]
                out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                times[side].append(result["seconds"])
                values[side].append(result["value"])
        line = {s: dict(median_s=round(float(np.median(t)), 3), values=values[s])
                for s, t in times.items() if t}
        if times["dlib"]:
            line["ratio"] = round(float(np.median(times["dlib"]) / np.median(times["fastdis"])),
                                  2)
        print(metric, json.dumps(line))


if __name__ == "__main__":
    main()
