"""Label images inside an OME-Zarr image: ``IMAGE.zarr/labels/NAME``.

NGFF keeps the segmentations of an image in its ``labels`` group: each one a
multiscale pyramid with an ``image-label`` attribute, listed in the group's
``labels`` attribute. Writing to a path of that form (with
:func:`napari_backproject.io.ome_zarr.write_ome_zarr`, and so with
``save_straightened``, ``write_backprojection``, the CLI's ``-o`` and the
npe2 writer) puts the labels there; viewers that read OME-Zarr
(napari-ome-zarr, ome-zarr-py) then open them with their image.

The image must exist and be an NGFF v0.5 (zarr v3) image, as
``write_ome_zarr`` writes them. The label pyramid is written under a
temporary name in ``labels/`` and renamed when complete; the ``labels``
group's list is updated only then.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "check_label_output",
    "prepare_label_output",
    "register_label",
    "cleanup_label_output",
]


def _image_attrs(image: Path) -> dict:
    import zarr

    if not image.exists():
        raise FileNotFoundError(
            f"cannot write labels into {image}: it does not exist. Write the "
            "image first (an OME-Zarr image), or choose a NAME.zarr path."
        )
    try:
        group = zarr.open_group(str(image), mode="r")
    except Exception:
        raise ValueError(
            f"cannot write labels into {image}: it is not a zarr group."
        ) from None
    if group.metadata.zarr_format != 3:
        raise ValueError(
            f"cannot write labels into {image}: it is a zarr v2 (NGFF v0.4) "
            "image; labels are written into NGFF v0.5 (zarr v3) images, such as "
            "those write_ome_zarr writes."
        )
    attrs = dict(group.attrs)
    ome = attrs.get("ome")
    if not isinstance(ome, dict) or "multiscales" not in ome:
        raise ValueError(
            f"cannot write labels into {image}: it is not an OME-Zarr image "
            "(no 'ome'/'multiscales' in its attributes)."
        )
    return attrs


def check_label_output(path: Path, overwrite: bool) -> Path:
    """Check ``IMAGE.zarr/labels/NAME`` can be written; return the labels folder.

    Raises before anything is written: the image is missing or not an NGFF
    v0.5 image, the folder is not writable, or ``NAME`` exists (unless
    ``overwrite``). Nothing is created.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from napari_backproject.io.ome_zarr import write_ome_zarr
    >>> check_label_output(Path(tempfile.mkdtemp()) / "no.zarr" / "labels" / "seg", False)
    Traceback (most recent call last):
    ...
    FileNotFoundError: cannot write labels into ...no.zarr: it does not exist. Write the image first (an OME-Zarr image), or choose a NAME.zarr path.
    """
    path = Path(path)
    image = path.parent.parent
    _image_attrs(image)
    labels = path.parent
    writable = labels if labels.is_dir() else image
    if not os.access(writable, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write {path}: {writable} is not writable; choose another location."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it, or "
            "choose another label name."
        )
    return labels


def prepare_label_output(path: Path, overwrite: bool) -> Path:
    """:func:`check_label_output`, then make the ``labels`` folder if needed.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from napari_backproject.io.ome_zarr import write_ome_zarr
    >>> img = write_ome_zarr(np.zeros((4, 4, 4), np.uint8), os.path.join(tempfile.mkdtemp(), "a.zarr"), kind="image")
    >>> prepare_label_output(img / "labels" / "seg", False).name
    'labels'
    """
    labels = check_label_output(path, overwrite)
    labels.mkdir(exist_ok=True)
    return labels


def cleanup_label_output(path: Path) -> None:
    """Remove an empty ``labels`` folder left by a failed first label write.

    Examples
    --------
    >>> cleanup_label_output(Path("/nonexistent/a.zarr/labels/seg"))
    """
    labels = Path(path).parent
    try:
        if labels.is_dir() and not any(labels.iterdir()):
            labels.rmdir()
    except OSError:
        pass


def register_label(path: Path) -> None:
    """List ``NAME`` in the ``labels`` group of ``IMAGE.zarr/labels/NAME``.

    Creates the group (NGFF v0.5 ``labels`` attribute) when needed.

    Examples
    --------
    >>> # register_label(Path("scan.zarr/labels/seg"))
    """
    import zarr

    path = Path(path)
    group = zarr.open_group(str(path.parent), mode="a", zarr_format=3)
    ome: dict[str, Any] = dict(group.attrs.get("ome", {}))
    names = [n for n in ome.get("labels", []) if n != path.name]
    ome.update(version="0.5", labels=[*names, path.name])
    group.attrs["ome"] = ome
