"""The C kernels under AddressSanitizer + UndefinedBehaviorSanitizer (tests/csrc/fuzz_kernels.c)."""
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
    exe = tmp_path / "fuzz"
    build = subprocess.run(
        ["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", "-ffp-contract=off", "-fopenmp", f"-I{CSRC}",
         *map(str, sources), str(HERE / "csrc" / "fuzz_kernels.c"), "-o", str(exe), "-lm"],
        capture_output=True, text=True)
    if build.returncode != 0:
        if "asan" in build.stderr or "ubsan" in build.stderr or "sanitize" in build.stderr:
            pytest.skip(f"sanitizer runtime not available: {build.stderr.strip()[:200]}")
        pytest.fail(f"the fuzz harness does not build: {build.stderr.strip()[-2000:]}")
    run = subprocess.run([str(exe), "1500"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "successful calls checked" in run.stdout
