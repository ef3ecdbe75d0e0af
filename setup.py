"""Build the fastdis extension, with OpenMP where the compiler supports it.

OpenMP is probed by compiling and linking a tiny program with each candidate
flag set; when none works the extension is built single-threaded and a warning
says so.  Set FASTDIS_NO_OPENMP=1 to force the single-threaded build.
"""
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCES = ["fastdis/_kernels.pyx", "csrc/threads.c", "csrc/discretize.c",
           "csrc/encode.c", "csrc/histogram.c", "csrc/binning_avx2.c",
           "csrc/sampling.c", "csrc/moments.c", "csrc/boosting.c", "csrc/forest.c",
           "csrc/logistic.c", "csrc/lasso.c", "csrc/svm.c", "csrc/correlation.c",
           "csrc/posterior_sampling.c", "csrc/posterior_quantized.c",
           "csrc/legacy_random.c", "csrc/sampling_batches.c", "csrc/pairs_avx512.c",
           "csrc/sampling_rows.c", "csrc/logistic_pass.c"]

PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _openmp_flag_candidates(compiler_type):
    if compiler_type == "msvc":
        return [(["/openmp"], [])]
    if sys.platform == "darwin":
        # Apple clang needs libomp (Homebrew's or a cibuildwheel-installed one)
        prefix = os.environ.get("LIBOMP_PREFIX", "/opt/homebrew/opt/libomp")
        return [(["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"], [f"-L{prefix}/lib", "-lomp"]),
                (["-fopenmp"], ["-fopenmp"])]
    return [(["-fopenmp"], ["-fopenmp"])]


def _probe_openmp(compiler):
    if os.environ.get("FASTDIS_NO_OPENMP", "") not in ("", "0"):
        return None
    tmp = tempfile.mkdtemp(prefix="fastdis-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(PROBE)
        for cflags, ldflags in _openmp_flag_candidates(compiler.compiler_type):
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=ldflags)
                return cflags, ldflags
            except Exception:  # noqa: BLE001 - any failure means "this flag set does not work"
                continue
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        ctype = self.compiler.compiler_type
        omp = _probe_openmp(self.compiler)
        if omp is None:
            warnings.warn("fastdis: OpenMP not available; building single-threaded kernels.",
                          stacklevel=1)
        for ext in self.extensions:
            if ctype == "msvc":
                ext.extra_compile_args += ["/O2", "/fp:precise"]
            else:
                # fp-contract=off: bin labels must equal numpy's, so no FMA in x*scale+offset
                ext.extra_compile_args += ["-O3", "-ffp-contract=off"]
            if omp is not None:
                ext.extra_compile_args += omp[0]
                ext.extra_link_args += omp[1]
                ext.define_macros.append(("FASTDIS_OPENMP", "1"))
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    ext = Extension(
        "fastdis._kernels",
        sources=SOURCES,
        include_dirs=["csrc", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    return cythonize([ext], compiler_directives={"language_level": "3"})


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
