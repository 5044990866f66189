"""The command line as a user meets it (issue 17, finding 10)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import tifffile

from napari_backproject import __version__, iradon, radon
from napari_backproject.cli import build_parser, main
from napari_backproject.io.tiff import write_tiff


def _image(tmp_path, n=24):
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    img = ((yy / 6) ** 2 + (xx / 8) ** 2 <= 1).astype(np.float32)
    path = tmp_path / "img.tif"
    write_tiff(img, path)
    return path, img


def test_2d_sinogram_stays_2d_on_disk(tmp_path, capsys):
    """(10) 'wrote … shape (24, 12)' and the file holds (24, 12): skimage can use it."""
    src, img = _image(tmp_path)
    out = tmp_path / "sino.tif"
    assert main(["sinogram", str(src), "-o", str(out), "--angles", "12"]) == 0
    assert "shape (24, 12)" in capsys.readouterr().err
    sino = tifffile.imread(out)
    assert sino.shape == (24, 12)
    theta = np.linspace(0, 180, 12, endpoint=False)
    np.testing.assert_allclose(sino, radon(img, theta), rtol=1e-5, atol=1e-5)
    rec = iradon(sino, theta)  # what a scikit-image user does next
    assert rec.shape == (24, 24)
    rec_out = tmp_path / "rec.tif"
    assert main(["reconstruct", str(out), "-o", str(rec_out)]) == 0
    assert tifffile.imread(rec_out).shape == (24, 24)


def test_one_argument_style_for_every_subcommand():
    """(10) every subcommand takes its output as -o/--output."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("sinogram", "reconstruct", "straighten", "backproject"):
        options = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert {"-o", "--output"} <= options, name


def test_positional_output_still_works_with_a_deprecation_message(tmp_path, capsys):
    """(10) the old 'sinogram IN OUT' keeps working and says what to use."""
    src, _ = _image(tmp_path)
    out = tmp_path / "old.tif"
    assert main(["sinogram", str(src), str(out), "--angles", "6"]) == 0
    assert out.exists()
    assert "deprecated; use -o" in capsys.readouterr().err
    both = ["sinogram", str(src), str(out), "-o", str(out), "--angles", "6"]
    assert main(both) == 2
    assert main(["sinogram", str(src), "--angles", "6"]) == 2
    assert "give -o OUTPUT" in capsys.readouterr().err


def test_every_option_has_help_text():
    """(10) --method, --compression, … all say what they do."""
    parser = build_parser()
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                missing += [
                    (name, a.option_strings or a.dest)
                    for a in sp._actions
                    if not a.help
                ]
    assert missing == []


def test_version(capsys):
    """(10) --version prints the package version."""
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert __version__ in capsys.readouterr().out
