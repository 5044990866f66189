#!/usr/bin/env bash
# Install what napari-backproject needs on a fresh Debian machine (Python >= 3.10):
# the Xvfb/Mesa/Qt system libraries and a virtual environment in .venv with the
# package (editable) and the extras given as arguments (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
PYTHON="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends \
    xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 \
    libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
    libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 \
    libxcb-cursor0 libdbus-1-3 libfontconfig1 libgomp1 >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${extras}]"
