#!/usr/bin/env bash
# Set up and run the whole test suite headless (Xvfb + Mesa), lint included,
# then prove the built wheel ships a manifest napari loads.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh testing
# numba's cache is keyed by a kernel's own file only: a cached kernel keeps a
# stale copy of a helper it inlined from another file. So the cache folder is
# keyed by the content of every source file; a changed source starts afresh
# and the folders of other versions are deleted.
cache_base="${NUMBA_CACHE_DIR:-$(pwd)/.numba-cache}"
key=$(find src/napari_backproject -name '*.py' -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ -d "$cache_base" ]; then
    find "$cache_base" -mindepth 1 -maxdepth 1 -type d -name 'src-*' \
        ! -name "src-$key" -exec rm -rf {} +
fi
export NUMBA_CACHE_DIR="$cache_base/src-$key"

.venv/bin/ruff check .
.venv/bin/ruff format --check .

xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"

bash scripts/check-wheel.sh
