#!/usr/bin/env bash
# Set up and run the whole test suite headless (Xvfb + Mesa), lint included,
# then prove the built wheel ships a manifest napari loads.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh testing
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$(pwd)/.numba-cache}"

.venv/bin/ruff check .
.venv/bin/ruff format --check .

xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"

bash scripts/check-wheel.sh
