#!/usr/bin/env bash
# Build the C kernels with AddressSanitizer + UndefinedBehaviorSanitizer (and OpenMP) and
# run the fuzz harness, also with OMP_THREAD_LIMIT=1 (OpenMP then grants a smaller team
# than the kernels ask for); then the same harness under valgrind memcheck without OpenMP.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../csrc"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cc="${CC:-gcc}"
srcs=("$src"/*.c "$here/fuzz_kernels.c")  # every kernel
# passive waiting: spinning OpenMP barriers crawl on a machine busy with other work
export OMP_WAIT_POLICY=passive
"$cc" -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    -ffp-contract=off -fopenmp -I"$src" "${srcs[@]}" -o "$out/fuzz_asan" -lm
ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_asan" "${1:-3000}"
ASAN_OPTIONS=detect_leaks=1 OMP_THREAD_LIMIT=1 "$out/fuzz_asan" "${1:-3000}"
if command -v valgrind >/dev/null; then
    "$cc" -O2 -g -ffp-contract=off -I"$src" "${srcs[@]}" -o "$out/fuzz_plain" -lm
    valgrind -q --error-exitcode=1 --leak-check=full "$out/fuzz_plain" "${2:-300}"
fi
