#!/usr/bin/env bash
# Fails when a tracked C++ file is not clang-formatted (.clang-format: Google, 100 columns), listing each
# file; `scripts/check-format.sh --fix` formats them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not found (apt-get install clang-format)"; exit 1; }
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cc' '*.h')  # new files too
if [[ ${1:-} == --fix ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} file(s) not clang-formatted ($(clang-format --version | head -1)); run scripts/check-format.sh --fix:"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
