#!/usr/bin/env bash
# The README's main job: install what the binary needs, build it, run the quick study (configs/quick.toml)
# on the registry data, and leave the report in runs/quick/report/. Extra arguments go to `overtrain study`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh main
./build/release/overtrain study --config configs/quick.toml "$@"
