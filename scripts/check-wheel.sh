#!/usr/bin/env bash
# Build the wheel, install it in a fresh virtual environment and check that
# napari finds the manifest inside the installed package (not the source tree).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m build --wheel --outdir "$work/dist" . >/dev/null
python_bin="$(.venv/bin/python -c 'import sys; print(sys._base_executable)')"
"$python_bin" -m venv "$work/venv"
wheel=$(ls "$work"/dist/napari_backproject-*.whl)
"$work/venv/bin/python" -m pip install -q "${wheel}[all]"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import pathlib
import napari_backproject
from npe2 import PluginManager

pkg = pathlib.Path(napari_backproject.__file__).parent
manifest = pkg / "napari.yaml"
assert "site-packages" in str(pkg), pkg
assert manifest.is_file() and not manifest.is_symlink(), manifest
pm = PluginManager.instance()
pm.discover()
mf = pm.get_manifest("napari-backproject")
assert len(mf.contributions.widgets) >= 4, mf.contributions.widgets
print("wheel manifest OK:", manifest)
PY
"$work/venv/bin/npe2" validate napari-backproject --imports
echo "wheel check passed"
