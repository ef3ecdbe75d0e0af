#!/usr/bin/env bash
# Build the C kernels with AddressSanitizer + UndefinedBehaviorSanitizer (and OpenMP) and
# run the fuzz harness; then the same harness under valgrind memcheck without OpenMP.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../csrc"
out="$(mktemp -d)"
cc="${CC:-gcc}"
srcs=("$src"/*.c "$here/fuzz_kernels.c")  # every kernel
"$cc" -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    -ffp-contract=off -fopenmp -I"$src" "${srcs[@]}" -o "$out/fuzz_asan" -lm
ASAN_OPTIONS=detect_leaks=1 "$out/fuzz_asan" "${1:-3000}"
if command -v valgrind >/dev/null; then
    "$cc" -O2 -g -ffp-contract=off -I"$src" "${srcs[@]}" -o "$out/fuzz_plain" -lm
    valgrind -q --error-exitcode=1 --leak-check=full "$out/fuzz_plain" "${2:-300}"
fi
rm -rf "$out"
