#!/usr/bin/env bash
# Set up and run the demo: opens napari with the sample data and the plugin's
# widgets; with no display, runs it headless and writes screenshots to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
if [ -n "${DISPLAY:-}" ]; then
  exec .venv/bin/napari-backproject demo "$@"
else
  .venv/bin/napari-backproject demo --headless --out demo-out "$@"
  echo "headless demo: results and screenshots in $(pwd)/demo-out"
fi
