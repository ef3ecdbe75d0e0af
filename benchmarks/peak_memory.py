"""Peak memory of fastdis.mutual_info_matrix (or of evaluate(), every metric; or of the
posterior estimators) at N = 10^7 (K = 5 int64 factors, d = 10 float64 codes).

    python benchmarks/peak_memory.py [N] [--evaluate | --quantized | --sampling]

--quantized: ``interpretability`` (quantised, 100 bins) and ``informativeness`` on a posterior
(the codes as means, a float64 std array as large again); --sampling: ``separability`` and
``interpretability`` with the sampling estimator (S = 64: memory does not grow with S). Their
budget is O(N d): the estimators keep float64 working copies of the posterior (the
sampling one three codes-major arrays, 3 N d doubles) + 64 MiB.

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
f = np.load(sys.argv[1]); z = np.load(sys.argv[2]); what = sys.argv[3]
std = np.full(z.shape, 0.3) if what in ("quantized", "sampling") else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if what == "evaluate":
    fastdis.evaluate(f, z)
elif what == "quantized":
    fastdis.interpretability(f, z, std=std); fastdis.informativeness(z, std=std)
elif what == "sampling":
    kw = dict(std=std, estimator="sampling", n_samples=64, random_state=0)
    fastdis.separability(z, **kw); fastdis.interpretability(f, z, **kw)
else:
    fastdis.mutual_info_matrix(f, z)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before * 1024, after * 1024, f.nbytes + z.nbytes + (0 if std is None else std.nbytes))
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
    if what in ("quantized", "sampling"):  # float64 working copies: N d doubles each
        budget = (3 if what == "sampling" else 1) * n * 10 * 8 + 64 * mib
    print(f"{what}, N = {n:.0e}: inputs {inputs / mib:.0f} MiB, peak RSS before the call "
          f"{before / mib:.0f} MiB, after {after / mib:.0f} MiB: fastdis added "
          f"{(after - before) / mib:.1f} MiB (budget {budget / mib:.0f} MiB)")
    return what == "evaluate" or after - before <= budget  # the budget is the kernel's


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    modes = [m for m in ("evaluate", "quantized", "sampling") if f"--{m}" in sys.argv]
    ok = main(int(float(args[0])) if args else 10**7, modes[0] if modes else "mutual_info_matrix")
    sys.exit(0 if ok else 1)
