#!/usr/bin/env bash
# CI's fuzz smoke pass: every libFuzzer target on a fixed seed for 20000 inputs or 30 s (scripts/fuzz.sh) when clang++ is installed;
# without clang it says so and succeeds (the fuzz build needs clang's -fsanitize=fuzzer). A crash fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v "${FUZZ_CXX:-clang++}" >/dev/null; then
  echo "fuzz-smoke: skipped: ${FUZZ_CXX:-clang++} not found (apt-get install clang to run the fuzz targets)"
  exit 0
fi
# clang without its libFuzzer runtime (libclang-rt-dev) cannot build the targets either.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cc"
if ! "${FUZZ_CXX:-clang++}" -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" 2>"$probe/err"; then
  echo "fuzz-smoke: skipped: ${FUZZ_CXX:-clang++} cannot link -fsanitize=fuzzer ($(head -1 "$probe/err"))"
  exit 0
fi
# Repeatable: the same seed and inputs on every machine (a gate must not fail by chance on a new random
# input; hunt for those with scripts/fuzz.sh, commit what it finds to fuzz/corpus/<target>/ and fix it).
rm -rf build/fuzz/corpus
FUZZ_RUNS=${FUZZ_SMOKE_RUNS:-20000} bash scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-30}"
