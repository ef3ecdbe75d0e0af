"""The C kernels under AddressSanitizer + UndefinedBehaviorSanitizer (tests/csrc/fuzz_kernels.c)."""
import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).parent
CSRC = HERE.parent / "csrc"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_fuzz_kernels_under_asan_ubsan(tmp_path):
    if not CSRC.is_dir():
        pytest.skip("C sources not available (testing an installed wheel)")
    sources = sorted(CSRC.glob("*.c"))  # every kernel, new ones included
    flags = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
             "-fno-sanitize-recover=all", "-ffp-contract=off", "-fopenmp"]
    # a toolchain without the sanitizer runtimes or OpenMP (Apple clang as gcc, MinGW)
    # cannot build even an empty program with these flags: skip there, fail otherwise
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    if subprocess.run(["gcc", *flags, str(probe), "-o", str(tmp_path / "probe")],
                      capture_output=True).returncode != 0:
        pytest.skip("this gcc cannot build with ASan/UBSan and OpenMP")
    exe = tmp_path / "fuzz"
    build = subprocess.run(
        ["gcc", *flags, f"-I{CSRC}", *map(str, sources), str(HERE / "csrc" / "fuzz_kernels.c"),
         "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert build.returncode == 0, f"the fuzz harness does not build: {build.stderr[-2000:]}"
    # also with a smaller OpenMP team than the kernels ask for; passive waiting because
    # spinning barriers crawl on a machine busy with other work
    for extra in ({}, {"OMP_THREAD_LIMIT": "1"}):
        env = dict(os.environ, OMP_WAIT_POLICY="passive", **extra)
        run = subprocess.run([str(exe), "1500"], capture_output=True, text=True, timeout=300,
                             env=env)
        assert run.returncode == 0, f"{extra}: {run.stderr[-3000:]}"
        assert "successful calls checked" in run.stdout
