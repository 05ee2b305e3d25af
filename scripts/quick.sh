#!/usr/bin/env bash
# The README's main job: install what is missing, build, run the quick study (configs/quick.toml) on the
# registry data, and leave the report in runs/quick/report/. Extra arguments go to `overtrain study`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/release/overtrain study --config configs/quick.toml "$@"
