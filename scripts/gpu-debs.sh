#!/usr/bin/env bash
# Run HERE (a machine with Debian's registry), before a GPU check: downloads the Debian 12 packages
# the build needs (headers and libraries of the binary's dependencies, googletest) into .gpu-debs/
# (git-ignored), for a GPU machine that has CUDA, CMake and a Python PyTorch 2.x but no registry.
# scripts/gpu-check.sh unpacks them there into a private prefix. Usage: bash scripts/gpu-debs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev libopenblas0 libeigen3-dev
  libsentencepiece0 libsentencepiece-dev libprotobuf-lite32 libtomlplusplus3 libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libfmt9 libfmt-dev libxxhash0 libxxhash-dev libpcre2-8-0
  libpcre2-dev libicu72 libicu-dev zlib1g-dev libgtest-dev googletest ninja-build
)
mkdir -p .gpu-debs
cd .gpu-debs
apt-get download "${packages[@]}" >/dev/null
echo "gpu-debs: $(ls *.deb | wc -l) packages, $(du -sh . | cut -f1) in .gpu-debs/ (carry it)"
