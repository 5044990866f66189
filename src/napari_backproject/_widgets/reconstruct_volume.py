"""The Reconstruct widget's projection-stack mode: a whole volume, lazily.

An image layer ``(angle, row, column)`` (NumPy or dask) with its angles (the
layer's ``metadata["theta"]``, or start/stop/count) and rotation centre (the
layer's ``metadata["center"]``, which *Use centre* of the Find centre widget
sets, or the centre box) is reconstructed by
:func:`napari_backproject.reconstruct_volume` as a dask array of row
reconstructions. The row the user will look at is computed first in a
background job (progress, Cancel); the layer is then added showing it, and
the job either streams the volume to TIFF / OME-Zarr or computes the other
rows nearest the one on screen first (the layer stays lazy: rows not yet
computed are computed when shown). Thin: the work is in
:mod:`napari_backproject._volume_jobs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, FloatSpinBox, SpinBox

from .._ct.projections import check_projections, projection_angles, reconstruct_volume
from .._job_inputs import available_memory, check_output_path
from .._volume_jobs import VOLUME_SUFFIXES, RowCache, RowShown, volume_job
from ._dock import layers_guard, units_of
from ._projections import projections_layer

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Image

    from .reconstruct import ReconstructWidget

__all__ = ["VolumePanel", "looks_like_projections", "SINOGRAMS", "PROJECTIONS"]

#: the two input layouts of the Reconstruct widget
SINOGRAMS = "sinogram(s) (…, detector, angle)"
PROJECTIONS = "projections (angle, row, column)"
#: the two angle sources in projection mode
FROM_METADATA = "layer metadata (theta)"
FROM_RANGE = "start / stop / count"


def looks_like_projections(
    shape: Sequence[int], metadata: Mapping | None, axis_labels: Sequence[str] = ()
) -> bool:
    """Whether a 3-D layer looks like a projection stack ``(angle, row, column)``.

    True when its first axis is labelled "angle", or when its metadata's
    ``theta`` has as many angles as the first axis and not the last (a
    sinogram stack has its angles last).

    Examples
    --------
    >>> looks_like_projections((180, 64, 128), {"theta": list(range(180))})
    True
    >>> looks_like_projections((64, 128, 180), {"theta": list(range(180))})
    False
    >>> looks_like_projections((10, 20, 30), {}, ("angle", "row", "column"))
    True
    """
    if len(shape) != 3:
        return False
    labels = [str(a).lower() for a in axis_labels]
    if labels and labels[0].startswith("angle"):
        return True
    theta = (metadata or {}).get("theta")
    if theta is None:
        return False
    k = int(np.size(theta))
    return k == int(shape[0]) and k != int(shape[-1])


class VolumePanel:
    """Projection-stack inputs and the lazy volume job of :class:`ReconstructWidget`.

    Parameters
    ----------
    owner : ReconstructWidget
        The widget whose layer choice, FBP options, save box and job
        controls it uses.

    Examples
    --------
    >>> widget.volume.layout.value = PROJECTIONS  # doctest: +SKIP
    >>> widget.run_button.click()  # doctest: +SKIP
    """

    def __init__(self, owner: ReconstructWidget) -> None:
        self.owner = owner
        self.viewer = owner.viewer
        self.layout = ComboBox(
            choices=[SINOGRAMS, PROJECTIONS],
            value=SINOGRAMS,
            label="input",
            tooltip="sinograms: angles on the last axis; a projection stack as "
            "acquired: angles on the first axis, reconstructed row by row",
        )
        self.angles = ComboBox(
            choices=[FROM_METADATA, FROM_RANGE], value=FROM_METADATA, label="angles"
        )
        self.start = FloatSpinBox(value=0.0, min=-1e5, max=1e5, label="start (°)")
        self.stop = FloatSpinBox(value=180.0, min=-1e5, max=1e5, label="stop (°)")
        self.count = SpinBox(
            value=1, min=1, max=10**7, label="count", tooltip="stop excluded"
        )
        self.center = FloatSpinBox(
            value=0.0,
            min=0.0,
            max=1e6,
            step=0.05,
            label="centre (px)",
            tooltip="rotation axis in detector pixels; the Find centre "
            "widget's 'Use centre' sets it",
        )
        #: the widgets shown in projection mode only
        self.widgets = [self.angles, self.start, self.stop, self.count, self.center]
        #: the result layer of the last run, and its row cache
        self.layer: Image | None = None
        self.cache: RowCache | None = None
        self._watched: Image | None = None
        self._wanted: list[int | None] = [None]
        self.angles.changed.connect(self.update_visibility)
        self.viewer.dims.events.current_step.connect(self._on_step)

    # ------------------------------------------------------------- state
    def active(self) -> bool:
        """Whether the widget is in projection-stack mode."""
        return self.layout.value == PROJECTIONS

    def update_visibility(self, *_: Any) -> None:
        """Show the projection widgets in projection mode (FBP only there)."""
        on = self.active()
        for w in self.widgets:
            w.visible = on
        ranged = self.angles.value == FROM_RANGE
        for w in (self.start, self.stop, self.count):
            w.visible = on and ranged
        owner = self.owner
        owner.method.enabled = not on
        if on and owner.method.value != "FBP":
            owner.method.value = "FBP"  # calls update_visibility again
        owner.preview.visible = not on
        owner.sinogram.label = "projections" if on else "sinogram"
        owner.save_file.filter = "*.tif *.tiff *.zarr" if on else "*.tif *.tiff"

    def on_layer(self, layer: Image | None) -> None:
        """Follow a new layer choice: layout, angle source, count and centre."""
        if self._watched is not None:
            try:
                self._watched.events.metadata.disconnect(self._on_metadata)
            except (TypeError, ValueError, RuntimeError):  # pragma: no cover
                pass
            self._watched = None
        if layer is None or layer.data.ndim != 3:
            self.layout.value = SINOGRAMS
            self.update_visibility()
            return
        shape = tuple(int(s) for s in layer.data.shape)
        labels = tuple(getattr(layer, "axis_labels", ()) or ())
        projections = looks_like_projections(shape, layer.metadata, labels)
        self.layout.value = PROJECTIONS if projections else SINOGRAMS
        has_theta = layer.metadata.get("theta") is not None
        self.angles.value = FROM_METADATA if has_theta else FROM_RANGE
        self.count.value = shape[0]
        self.center.max = max(shape[2] - 1, 0)
        self._on_metadata(layer=layer)
        layer.events.metadata.connect(self._on_metadata)
        self._watched = layer
        self.update_visibility()

    def _on_metadata(self, event: Any = None, layer: Image | None = None) -> None:
        layer = layer if layer is not None else self._watched
        if layer is None or layer.data.ndim != 3:
            return
        center = layer.metadata.get("center")
        n_det = int(layer.data.shape[2])
        self.center.value = float(n_det // 2 if center is None else center)

    def info(self, layer: Image) -> str:
        """The θ line of the widget for a projection stack."""
        try:
            theta = self.theta(layer)
        except (ValueError, TypeError) as exc:
            return str(exc)[:120]
        shape = tuple(int(s) for s in layer.data.shape)
        if theta.size != shape[0]:
            others = [k for k in (1, 2) if shape[k] == theta.size]
            where = f"axis {others[0]} has {theta.size}: " if others else ""
            return (
                f"{theta.size} angles, but axis 0 has {shape[0]}; {where}"
                "the angle axis is expected first (angle, row, column)"
            )
        try:
            check_projections(layer.data, theta)
        except (ValueError, TypeError) as exc:
            return str(exc)[:120]
        return (
            f"{theta.size} angles, {theta[0]:g}…{theta[-1]:g}° "
            f"({'metadata' if self.angles.value == FROM_METADATA else 'range'})"
        )

    def theta(self, layer: Image) -> np.ndarray:
        """The angles of ``layer`` from the chosen source (not yet checked)."""
        if self.angles.value == FROM_METADATA:
            if layer.metadata.get("theta") is None:
                raise ValueError(
                    f"{layer.name!r} has no angles in its metadata ('theta'); "
                    f"choose angles: {FROM_RANGE!r}."
                )
            return projection_angles(metadata=layer.metadata)
        if not float(self.stop.value) > float(self.start.value):
            raise ValueError(
                f"the angle range must end after it starts; got "
                f"[{self.start.value}, {self.stop.value})."
            )
        return projection_angles(
            int(self.count.value),
            start=float(self.start.value),
            stop=float(self.stop.value),
        )

    def current_row(self) -> int | None:
        """The row of the result layer under the viewer's current step."""
        layer = self.layer
        if layer is None or layer not in self.viewer.layers:
            return None
        point = np.asarray(self.viewer.dims.point, dtype=float)[-layer.ndim :]
        coord = layer.world_to_data(point)[0]
        return int(np.clip(np.round(coord), 0, layer.data.shape[0] - 1))

    def _on_step(self, *_: Any) -> None:
        self._wanted[0] = self.current_row()

    # ------------------------------------------------------------- run
    @staticmethod
    def _save_path(text: str) -> Path | None:
        text = text.strip()
        if not text or text == ".":
            return None
        path = Path(text).expanduser()
        suffix = path.suffix.lower()
        if suffix not in VOLUME_SUFFIXES:
            raise ValueError(
                f"save to: {path.name!r} is neither TIFF nor OME-Zarr; use a name "
                "ending in .tif, .tiff or .zarr."
            )
        return check_output_path(path, VOLUME_SUFFIXES)

    def run(self):
        """Reconstruct the chosen projection stack lazily; returns the worker.

        Raises
        ------
        ValueError
            No 3-D layer, angles that do not match (naming the axis that
            matches, if one does), a centre outside the detector, a bad file.
        RuntimeError
            A job is already running.
        """
        owner = self.owner
        if owner.controls.running:
            raise RuntimeError("a reconstruction is already running; wait or cancel.")
        layer = projections_layer(owner.sinogram.value)
        theta = self.theta(layer)
        params = owner.parameters()
        params.pop("method")
        center = float(self.center.value)
        volume = reconstruct_volume(layer.data, theta, center=center, **params)
        save_to = self._save_path(str(owner.save_file.line_edit.value))
        free = available_memory() or 2**31
        cache = RowCache(volume, budget=min(2**30, free // 4))
        n_rows = volume.shape[0]
        name = f"{layer.name} volume"
        s, t = [float(v) for v in layer.scale], [float(v) for v in layer.translate]
        scale, translate = (s[1], s[2], s[2]), (t[1], t[2], t[2])
        units = units_of(layer)
        units = (units[1], units[2], units[2]) if units else None
        metadata = {
            **params,
            "method": "fbp",
            "theta": theta.tolist(),
            "theta_source": "metadata"
            if self.angles.value == FROM_METADATA
            else "range",
            "center": center,
            "source": layer.name,
            "lazy": True,
        }
        if save_to is not None:
            metadata["saved"] = str(save_to)
        previous = self.current_row() if self.layer is not None else None
        if previous is not None and self.layer.data.shape[0] == n_rows:
            first = previous
        else:
            first = int(layer.metadata.get("center_row", n_rows // 2))
        self._wanted[0] = first

        def shown(item: Any) -> None:
            if not isinstance(item, RowShown):
                return
            row = cache.row(item.row)
            lo, hi = float(np.min(row)), float(np.max(row))
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            self.layer = self.viewer.add_image(
                cache.array(),
                name=name,
                scale=scale,
                translate=translate,
                colormap="gray",
                metadata=metadata,
                contrast_limits=(lo, hi if hi > lo else lo + 1.0),
                axis_labels=("row", "y", "x"),
                cache=False,  # rows are kept by our RowCache (thread-safe)
                **({"units": units} if units else {}),
            )
            self.cache = cache
            axis = self.viewer.dims.ndim - 3
            self.viewer.dims.set_point(axis, translate[0] + item.row * scale[0])

        def returned(summary: dict | None) -> None:
            if summary is None:  # cancelled while saving
                return
            saved = summary.get("saved")
            done = int(summary["computed"])
            text = (
                f"Volume {n_rows} x {volume.shape[1]} x {volume.shape[2]}: "
                f"{done} rows reconstructed"
                + ("" if done >= n_rows else ", the others when shown")
            )
            owner.controls.status.setText(text + (f"; saved {saved}" if saved else ""))

        holder: dict[str, Any] = {}

        def abort_requested() -> bool:
            # the worker's flag stays set after it aborted, so the writer
            # still running in its helper thread sees it too
            worker = holder.get("worker")
            return bool(worker is not None and worker.abort_requested)

        holder["worker"] = owner.controls.start(
            volume_job,
            cache,
            first,
            lambda: self._wanted[0],
            save_to=save_to,
            write={
                "scale": scale,
                "translate": translate,
                "metadata": {**metadata, "units": list(units) if units else None},
            },
            abort_requested=abort_requested,
            on_returned=returned,
            on_yielded=shown,
            description="Reconstruct volume",
            guard=layers_guard(self.viewer, layer),
        )
        return holder["worker"]
