"""End-to-end tests of ``napari-backproject sinogram`` / ``reconstruct``."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_backproject import tomography
from napari_backproject.cli import main
from napari_backproject.io.tiff import read_tiff


def _disk(n: int = 24) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    img = np.zeros((n, n), np.float32)
    img[(yy / (0.25 * n)) ** 2 + (xx / (0.33 * n)) ** 2 <= 1] = 1.0
    img[(yy / (0.12 * n)) ** 2 + ((xx - 0.1 * n) / (0.08 * n)) ** 2 <= 1] = 0.5
    return img


@pytest.fixture(scope="module")
def stack_tif(tmp_path_factory):
    """A 3-slice float32 stack (scale 2 x 0.5 x 0.5) written by tifffile."""
    img = _disk()
    stack = np.stack([img, 0.5 * img, img[::-1]])
    path = tmp_path_factory.mktemp("cli") / "stack.tif"
    from napari_backproject.io.tiff import write_tiff

    write_tiff(stack, path, scale=(2.0, 0.5, 0.5), translate=(1.0, 3.0, 4.0))
    return path, stack


def test_sinogram_stack_matches_radon(stack_tif, tmp_path, capsys):
    src, stack = stack_tif
    out = tmp_path / "sino.tif"
    code = main(["sinogram", str(src), "-o", str(out), "--angles", "12"])
    assert code == 0
    data, md = read_tiff(out)
    theta = np.linspace(0, 180, 12, endpoint=False)
    assert data.shape == (3, 24, 12)
    assert data.dtype == np.float32
    expected = np.stack([tomography.radon(s, theta) for s in stack])
    np.testing.assert_allclose(np.asarray(data), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(md["theta"], theta)
    assert md["circle"] is True and md["kind"] == "sinogram"
    # slice axis keeps its scale; detector gets the pixel size; angle in degrees
    np.testing.assert_allclose(md["scale"], [2.0, 0.5, 15.0])
    np.testing.assert_allclose(md["translate"], [1.0, 0.0, 0.0])
    assert "wrote" in capsys.readouterr().err


def test_reconstruct_fbp_uses_stored_theta(stack_tif, tmp_path):
    src, stack = stack_tif
    sino = tmp_path / "sino.tif"
    out = tmp_path / "fbp.tif"
    args = ["sinogram", str(src), "-o", str(sino), "--angles", "10"]
    assert main([*args, "--angle-range", "10", "170"]) == 0
    code = main(
        [
            "reconstruct",
            str(sino),
            "-o",
            str(out),
            "--method",
            "fbp",
            "--filter",
            "hann",
        ]
    )
    assert code == 0
    data, md = read_tiff(out)
    theta = np.linspace(10, 170, 10, endpoint=False)
    sinos = np.asarray(read_tiff(sino)[0])
    expected = np.stack(
        [tomography.iradon(s, theta, filter_name="hann") for s in sinos]
    )
    assert data.shape == (3, 24, 24) and data.dtype == expected.dtype
    np.testing.assert_allclose(np.asarray(data), expected, rtol=1e-5, atol=1e-5)
    assert md["method"] == "fbp" and md["theta_source"] == "metadata"
    assert md["filter_name"] == "hann"
    np.testing.assert_allclose(md["theta"], theta)
    np.testing.assert_allclose(md["scale"], [2.0, 0.5, 0.5])
    np.testing.assert_allclose(md["translate"], [1.0, 3.0, 4.0])


def test_reconstruct_sart_iterations_and_clip(stack_tif, tmp_path):
    src, _ = stack_tif
    sino = tmp_path / "sino.tif"
    out = tmp_path / "sart.tif"
    assert main(["sinogram", str(src), "-o", str(sino), "--angles", "16"]) == 0
    args = ["reconstruct", str(sino), "-o", str(out), "--method", "sart"]
    assert main([*args, "--iterations", "2", "--clip", "0", "1"]) == 0
    data, md = read_tiff(out)
    theta = np.linspace(0, 180, 16, endpoint=False)
    sinos = np.asarray(read_tiff(sino)[0])
    expected = []
    for s in sinos:
        image = tomography.iradon_sart(s, theta, clip=(0, 1))
        expected.append(tomography.iradon_sart(s, theta, image=image, clip=(0, 1)))
    np.testing.assert_allclose(np.asarray(data), np.stack(expected), atol=1e-5)
    assert float(np.asarray(data).min()) >= 0.0
    assert md["method"] == "sart" and md["n_iter"] == 2 and md["clip"] == [0, 1]


def test_2d_round_trip_no_circle(tmp_path):
    img = _disk(20)
    src = tmp_path / "one.tif"
    tifffile.imwrite(src, img)  # a foreign TIFF: no metadata of ours
    sino, rec = tmp_path / "s.tif", tmp_path / "r.tif"
    assert (
        main(["sinogram", str(src), "-o", str(sino), "--angles", "20", "--no-circle"])
        == 0
    )
    data, md = read_tiff(sino)
    theta = np.linspace(0, 180, 20, endpoint=False)
    expected = tomography.radon(img, theta, circle=False)
    assert data.shape == expected.shape and md["circle"] is False
    np.testing.assert_allclose(np.asarray(data), expected, rtol=1e-5, atol=1e-5)
    assert main(["reconstruct", str(sino), "-o", str(rec)]) == 0
    image, md2 = read_tiff(rec)
    ref = tomography.iradon(expected, theta, circle=False)
    assert image.shape == ref.shape == (20, 20)
    np.testing.assert_allclose(np.asarray(image), ref, rtol=1e-5, atol=1e-5)
    assert md2["circle"] is False  # taken from the sinogram's metadata


def test_reconstruct_foreign_sinogram_uses_uniform_angles(tmp_path):
    theta = np.linspace(0, 180, 8, endpoint=False)
    sino = tomography.radon(_disk(16), theta)
    src = tmp_path / "foreign.tif"
    tifffile.imwrite(src, sino)
    out = tmp_path / "r.tif"
    assert main(["reconstruct", str(src), "-o", str(out)]) == 0
    data, md = read_tiff(out)
    assert md["theta_source"] == "uniform"
    np.testing.assert_allclose(
        np.asarray(data), tomography.iradon(sino, theta), atol=1e-5
    )
    # --theta-from-file insists on stored angles
    bad = tmp_path / "bad.tif"
    assert main(["reconstruct", str(src), "-o", str(bad), "--theta-from-file"]) == 2
    assert not bad.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--iterations", "3"], "not used by"),
        (["--method", "sart", "--filter", "hann"], "not used by"),
        (["--method", "sart", "--clip", "1", "0"], "MIN < MAX"),
        (["--output-size", "0"], "--output-size"),
    ],
)
def test_reconstruct_bad_options(stack_tif, tmp_path, capsys, extra, message):
    src, _ = stack_tif
    out = tmp_path / "x.tif"
    assert main(["reconstruct", str(src), "-o", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_sinogram_errors(tmp_path, capsys):
    out = tmp_path / "x.tif"
    assert (
        main(
            ["sinogram", str(tmp_path / "missing.tif"), "-o", str(out), "--angles", "4"]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    src = tmp_path / "one.tif"
    tifffile.imwrite(src, _disk(8))
    args = [
        "sinogram",
        str(src),
        "-o",
        str(out),
        "--angles",
        "4",
        "--angle-range",
        "5",
        "5",
    ]
    assert main(args) == 2
    assert "END > START" in capsys.readouterr().err
    assert main(["sinogram", str(src), "-o", str(out), "--angles", "0"]) == 2
    assert not out.exists()


def test_interrupted_write_leaves_no_file(stack_tif, tmp_path, monkeypatch):
    """A cancelled run (Ctrl-C during the write) leaves no output behind."""
    from napari_backproject._cli import _common

    def bar(description):
        def update(done, total):
            if done >= 1:
                raise KeyboardInterrupt

        return update, lambda: None

    monkeypatch.setattr(
        "napari_backproject._cli.tomography.progress_bar", bar, raising=True
    )
    assert _common.progress_bar is not bar
    src, _ = stack_tif
    out = tmp_path / "sino.tif"
    assert main(["sinogram", str(src), "-o", str(out), "--angles", "6"]) == 130
    assert list(tmp_path.iterdir()) == []
