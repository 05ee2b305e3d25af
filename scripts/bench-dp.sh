#!/usr/bin/env bash
# Data-parallel scaling on this machine (a benchmark, not a test): pre-training tokens/s of one run
# with the same global batch as
#   1 process  x 1 thread,  1 process x 2 threads,  2 processes x 1 thread (Gloo, torchrun variables),
# for each preset, with rank 0's all-reduce time per step: medians of $REPEATS (3) alternating
# repeats. Prints a Markdown table.
#   bash scripts/bench-dp.sh [presets=pico-32,tiny,small]
# Needs build/release/overtrain built with the LibTorch plugin (scripts/setup.sh test) or
# $OVERTRAIN_BIN. Take it alone: another process on the same cores measures the neighbour.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${OVERTRAIN_BIN:-$PWD/build/release/overtrain}"
[ -x "$bin" ] || { echo "bench-dp.sh: $bin missing; build it first" >&2; exit 1; }
IFS=, read -r -a presets <<< "${1:-pico-32,tiny,small}"
work=$(mktemp -d /tmp/overtrain-bench-dp.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Uniform random tokens below 512 (the smallest preset vocabulary; the model's vocabulary sets the
# cost, not the data's): speed only.
/usr/bin/python3 - "$work/train.u16" <<'PY'
import array, random, sys
random.seed(1)
array.array("H", (random.randrange(512) for _ in range(4_000_000))).tofile(open(sys.argv[1], "wb"))
PY
"$bin" data import-tokens --in "$work/train.u16" --dtype uint16 --vocab 512 --out "$work/train.tok" \
  > /dev/null

shape() {  # B T steps of a preset (the bench's shapes: scripts and `overtrain bench` agree)
  case "$1" in
    pico-*) echo "32 64 600" ;;
    tiny) echo "32 128 200" ;;
    small) echo "32 128 80" ;;
    *) echo "16 256 20" ;;
  esac
}

# run <preset> <processes> <threads>: prints "tokens/s all-reduce-ms"
run() {
  local preset=$1 procs=$2 threads=$3 B T steps port=$((29500 + RANDOM % 1000))
  read -r B T steps < <(shape "$preset")
  local out="$work/$preset-$procs-$threads"
  rm -rf "$out"
  local args=(pretrain --set "model.preset=$preset" --set "data.train=$work/train.tok"
    --set "train.batch_size=$B" --set "train.seq_len=$T" --set "train.budget=$((B * T * steps))"
    --set "train.threads=$threads" --set train.quiet=true --out "$out")
  if [ "$procs" = 1 ]; then
    OMP_NUM_THREADS=$threads "$bin" "${args[@]}" > "$out.log"
  else
    local pids=() r
    for ((r = procs - 1; r >= 0; r--)); do
      WORLD_SIZE=$procs RANK=$r LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        OMP_NUM_THREADS=$threads "$bin" "${args[@]}" > "$out.log.$r" 2>&1 &
      pids+=($!)
    done
    for r in "${pids[@]}"; do wait "$r"; done
    mv "$out.log.0" "$out.log"
  fi
  local tokens wall ms
  tokens=$(sed -n 's/^run: [0-9]* steps, \([0-9]*\) tokens.*/\1/p' "$out.log")
  wall=$(sed -n 's/^run: .*, \([0-9.]*\) s; .*/\1/p' "$out.log")
  ms=$(sed -n 's/.*all-reduce \([0-9.]*\) ms per step.*/\1/p' "$out.log")
  echo "$(awk -v t="$tokens" -v w="$wall" 'BEGIN { printf "%.0f", t / w }') ${ms:--}"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| preset | B x T | steps | 1 proc x 1 thr tok/s | 1 proc x 2 thr tok/s | 2 proc x 1 thr tok/s | all-reduce ms/step | 2 proc / 1x2 |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for preset in "${presets[@]}"; do
  read -r B T steps < <(shape "$preset")
  ones=() twos=() dps=() mss=()
  for ((k = 0; k < ${REPEATS:-3}; k++)); do
    read -r v _ < <(run "$preset" 1 1) && ones+=("$v")
    read -r v _ < <(run "$preset" 1 2) && twos+=("$v")
    read -r v m < <(run "$preset" 2 1) && dps+=("$v") && mss+=("$m")
  done
  one=$(printf '%s\n' "${ones[@]}" | median)
  two=$(printf '%s\n' "${twos[@]}" | median)
  dp=$(printf '%s\n' "${dps[@]}" | median)
  ms=$(printf '%s\n' "${mss[@]}" | median)
  echo "| $preset | $B x $T | $steps | $one | $two | $dp | $ms | $(awk -v a="$dp" -v b="$two" 'BEGIN { printf "%.2f", a / b }') |"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
