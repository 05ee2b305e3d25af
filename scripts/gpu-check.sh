#!/usr/bin/env bash
# The prepared check for a machine with an NVIDIA GPU, CUDA, CMake and a Python PyTorch 2.x but no
# package registry (carry .gpu-debs/ from scripts/gpu-debs.sh). In one run, with its output under
# $OUT (default ./gpu-check):
#   1. unpack the carried Debian packages into a private prefix and build overtrain, its LibTorch
#      plugin and the plugin's tests against that PyTorch's LibTorch (CUDA);
#   2. the torch backend's parity tests on cuda (fp32 to the CPU bounds, bf16 to its derived bound);
#   3. `overtrain bench --backend torch --device cuda --precision bf16` at olmo-30m and olmo-90m:
#      tokens/s and MFU against the H100's dense bf16 peak (989 TFLOP/s; --peak PEAK for another);
#   4. a short pre-training on cuda, killed mid-run and resumed to the end.
# Usage: bash scripts/gpu-check.sh [--peak TFLOPS]
set -uo pipefail
cd "$(dirname "$0")/.."
peak=989
[[ ${1:-} == --peak ]] && peak=$2
out=${OUT:-gpu-check}
mkdir -p "$out"
log() { echo "gpu-check: $*" | tee -a "$out/summary.txt"; }
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

# 1. Build.
prefix=/tmp/ot-prefix
mkdir -p "$prefix"
for f in .gpu-debs/*.deb; do dpkg-deb -x "$f" "$prefix" 2>/dev/null || { ar p "$f" data.tar.xz | tar -xJ -C "$prefix"; }; done
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_version=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch._C._GLIBCXX_USE_CXX11_ABI)')
log "PyTorch $torch_version (version, CUDA, C++11 ABI)"
export PATH=$prefix/usr/bin:$PATH
export PKG_CONFIG_PATH=$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig
export LD_LIBRARY_PATH=$prefix/usr/lib/x86_64-linux-gnu:$prefix/usr/lib/x86_64-linux-gnu/openblas-openmp:${LD_LIBRARY_PATH:-}
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr;$prefix/usr/lib/x86_64-linux-gnu/cmake" \
  -DCMAKE_CXX_FLAGS="-isystem $prefix/usr/include -isystem $prefix/usr/include/eigen3" \
  -DCMAKE_EXE_LINKER_FLAGS="-L$prefix/usr/lib/x86_64-linux-gnu" \
  -DCMAKE_SHARED_LINKER_FLAGS="-L$prefix/usr/lib/x86_64-linux-gnu" >"$out/configure.log" 2>&1 ||
  { tail -30 "$out/configure.log"; log "configure failed"; exit 1; }
cmake --build build/gpu -j "$(nproc)" --target overtrain overtrain_torch test_engine_torch >"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log"; log "build failed"; exit 1; }
log "built in $(($(date +%s) - t0)) s"

# 2. Parity on cuda.
OVERTRAIN_TEST_DEVICE=cuda build/gpu/test_engine_torch --gtest_filter='TorchModel*:Families/*' \
  2>&1 | tee "$out/parity.txt" | grep -E "^\s+(torch|bf16)|OK|FAILED" | tee -a "$out/summary.txt"

# 3. Throughput and MFU.
build/gpu/overtrain bench --configs olmo-30m,olmo-90m --backend torch --device cuda \
  --precision bf16 --peak-tflops "$peak" --no-torch --steps 20 --rounds 2 --warmup 5 \
  >"$out/bench.md" 2>"$out/bench.log"
grep -E "^\| olmo" "$out/bench.md" | tee -a "$out/summary.txt"

# 4. Kill and resume on cuda (synthetic tokens from the binary's own writer are not needed: a
#    prepared token file is written by the test fixture; here a random stream).
python3 - "$out/tokens.bin" <<'PY'
import sys, numpy as np
np.random.default_rng(0).integers(0, 32000, size=4_000_000, dtype=np.uint16).tofile(sys.argv[1])
PY
build/gpu/overtrain data import-tokens --in "$out/tokens.bin" --dtype uint16 --vocab 32000 \
  --out "$out/train.tok" >/dev/null 2>&1 || log "data import-tokens unavailable: step 4 skipped"
if [[ -f $out/train.tok ]]; then
  args=(--set model.preset=olmo-30m --set data.train="$out/train.tok" --set compute.backend=torch
        --set compute.device=cuda --set optim.precision=bf16 --set train.batch_size=16
        --set train.seq_len=1024 --set train.budget=2M --set train.checkpoint_every=262144
        --set train.quiet=true)
  build/gpu/overtrain pretrain "${args[@]}" --out "$out/run" &
  pid=$!
  sleep 40
  kill -9 $pid 2>/dev/null && log "killed the pre-training after 40 s"
  build/gpu/overtrain pretrain "${args[@]}" --out "$out/run" 2>&1 | tail -3 | tee -a "$out/summary.txt"
  ls "$out/run/ckpt" | tee -a "$out/summary.txt"
fi
log "done in $(($(date +%s) - t0)) s"
