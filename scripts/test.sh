#!/usr/bin/env bash
# The README's test command: install what is missing (the test packages too), build everything, check the
# formatting, run every test binary through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/check-format.sh
OMP_NUM_THREADS=2 ctest --preset release -j 1 "$@"
