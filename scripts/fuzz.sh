#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, docs/fuzzing.md) in build/fuzz with clang + ASan/UBSan, writes their
# seed corpora, and runs each target for SECONDS, one at a time on one core at nice 19. Exits non-zero
# when a target crashes (the input is kept in build/fuzz/crashes/) or does not build.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]; SECONDS defaults to 20; targets: safetensors manifest
# token_file config_toml tasks idx (default: all). Logs: build/fuzz/logs/<target>.log. FUZZ_RUNS: see below.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors manifest token_file config_toml tasks idx)
build=build/fuzz
command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}

# -O1 -g without NDEBUG: library assertions (nlohmann's JSON_ASSERT) stay on. Portable code, no -march.
CXX=${FUZZ_CXX:-clang++} cmake -S . -B "$build" -DOVERTRAIN_FUZZ=ON -DOVERTRAIN_NATIVE=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
nice -n 19 cmake --build "$build" --target fuzz -j "${FUZZ_JOBS:-1}"

corpus=$build/corpus
# FUZZ_RUNS=N: a fixed seed and at most N inputs per target, so that a pass (CI's smoke) is a repeatable
# check of the same inputs on every machine rather than a lottery over new ones; a slower machine stops
# at SECONDS on a prefix of the same sequence. Unset: a fresh random search for SECONDS (bug hunting).
fixed=()
[[ -n ${FUZZ_RUNS:-} ]] && fixed=(-seed=1 -runs="$FUZZ_RUNS")
"$build/fuzz/fuzz_seeds" "$corpus" >/dev/null
mkdir -p "$build/crashes" "$build/logs"
failed=()
for t in "${targets[@]}"; do
  [[ -x "$build/fuzz/${t}_fuzz" ]] || { echo "fuzz: unknown target '$t'"; exit 2; }
  seeds=()
  [[ -d fuzz/corpus/$t ]] && seeds+=("fuzz/corpus/$t")  # committed regression inputs and hand seeds
  [[ $t == config_toml ]] && seeds+=(configs)
  dict=()
  [[ -f fuzz/$t.dict ]] && dict=(-dict="fuzz/$t.dict")
  [[ $t == config_toml ]] && dict=(-dict="$corpus/config_toml.dict")
  log=$build/logs/$t.log
  echo "fuzz: $t for ${seconds}s (log $log)"
  if nice -n 19 "$build/fuzz/${t}_fuzz" -max_total_time="$seconds" "${fixed[@]}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "${dict[@]}" "$corpus/$t" "${seeds[@]}" \
      >"$log" 2>&1; then
    stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    echo "fuzz: $t ok: $execs execs, $stats"
  else
    echo "fuzz: $t FAILED; the end of $log:"
    tail -40 "$log"
    failed+=("$t")
  fi
done
# A crashed target skips its exit cleanup: drop the scratch dirs (fuzz/fuzz_util.h) of dead processes.
for d in /dev/shm/overtrain-fuzz-* "${TMPDIR:-/tmp}"/overtrain-fuzz-*; do
  if [[ -d $d ]] && ! kill -0 "${d##*-}" 2>/dev/null; then rm -rf "$d"; fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}; inputs in $build/crashes/"
  exit 1
fi
