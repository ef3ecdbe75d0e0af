"""Peak memory of fastdis.mutual_info_matrix (or of evaluate(), every metric) at N = 10^7
(K = 5 int64 factors, d = 10 float64 codes).

    python benchmarks/peak_memory.py [N] [--evaluate]

Writes the arrays to a temporary folder, then, in a fresh process, loads them and reports
the peak resident set size (ru_maxrss) before and after the call: the difference is what
fastdis adds on top of the input. The budget is N*d bytes + 64 MiB.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = r"""
import resource, sys, numpy as np, fastdis
f = np.load(sys.argv[1]); z = np.load(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fastdis.evaluate(f, z) if sys.argv[3] == "evaluate" else fastdis.mutual_info_matrix(f, z)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before * 1024, after * 1024, f.nbytes + z.nbytes)
"""


def main(n=10**7, what="mutual_info_matrix"):
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        np.save(os.path.join(tmp, "f.npy"), rng.integers(0, 10, size=(n, 5)))
        np.save(os.path.join(tmp, "z.npy"), rng.normal(size=(n, 10)))
        out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(tmp, "f.npy"),
                              os.path.join(tmp, "z.npy"), what], capture_output=True, text=True,
                             check=True).stdout.split()
    before, after, inputs = map(int, out)
    mib = 2**20
    budget = n * 10 + 64 * mib
    print(f"{what}, N = {n:.0e}: inputs {inputs / mib:.0f} MiB, peak RSS before the call "
          f"{before / mib:.0f} MiB, after {after / mib:.0f} MiB: fastdis added "
          f"{(after - before) / mib:.1f} MiB (budget N*d bytes + 64 MiB = {budget / mib:.0f} MiB)")
    return what == "evaluate" or after - before <= budget  # the budget is the kernel's


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ok = main(int(float(args[0])) if args else 10**7,
              "evaluate" if "--evaluate" in sys.argv else "mutual_info_matrix")
    sys.exit(0 if ok else 1)
