"""Run by test_predictor_threads.py in a subprocess: a long predictor metric, to be
interrupted with SIGINT once it prints "ready"."""
import sys

import numpy as np

import fastdis


def main(which):
    rng = np.random.default_rng(0)
    if which == "explicitness":  # 120 logistic regressions on 10**6 rows: seconds
        n, levels = 1_000_000, 40
    else:
        n, levels = 20000, 5  # 3 x 400 trees of the survey's forests: seconds
    factors = rng.integers(0, levels, size=(n, 3))
    codes = np.column_stack([factors + rng.normal(size=(n, 3)), rng.normal(size=(n, 3))])
    print("ready", flush=True)
    try:
        if which == "explicitness":
            fastdis.explicitness(factors, codes, random_state=0, n_threads=2, max_train=False,
                                 max_test=False)
        else:
            fastdis.dci(factors, codes, estimator="random_forest", random_state=0, n_threads=2,
                        max_train=False, max_test=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
