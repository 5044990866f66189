"""Live preview of the Reconstruct widget: the slice under the viewer's step.

:class:`SlicePreview` is a mixin of
:class:`~napari_backproject._widgets.reconstruct.ReconstructWidget`: it
reconstructs only the sinogram slice the viewer shows into a ``"preview"``
layer, restarting when the step or a parameter changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image

from .._jobs import Partial, _plane

#: name of the live-preview layer
PREVIEW_NAME = "preview"


class SlicePreview:
    """Preview methods of the Reconstruct widget (a mixin; needs its fields)."""

    def _on_step(self, *_: Any) -> None:
        layer = self.sinogram.value
        if layer is not None and layer.data.ndim == 3:
            self._schedule_preview()

    def _schedule_preview(self, *_: Any) -> None:
        if self.preview.value:
            self._preview_timer.start()
        elif self.preview_controls.running:
            self.preview_controls.cancel()

    def current_index(self, layer: Image) -> int | None:
        """Slice of a 3D ``layer`` under the viewer's current step (None for 2D).

        Examples
        --------
        >>> viewer.dims.set_current_step(0, 2)  # doctest: +SKIP
        >>> widget.current_index(viewer.layers["sino"])  # doctest: +SKIP
        2
        """
        if layer.data.ndim != 3:
            return None
        point = np.asarray(self.viewer.dims.point, dtype=float)[-layer.ndim :]
        coord = layer.world_to_data(point)[0]
        return int(np.clip(np.round(coord), 0, layer.data.shape[0] - 1))

    def _start_preview(self) -> None:
        if not self.preview.value or self.volume.active():
            return
        if self.preview_controls.running:
            # restart when the running preview has stopped
            self._preview_pending = True
            self.preview_controls.cancel()
            return
        try:
            self.start_preview()
        except (ValueError, RuntimeError) as exc:
            self.preview_controls.status.setText(str(exc))

    def start_preview(self):
        """Reconstruct the current slice into the ``"preview"`` layer; the worker.

        Raises
        ------
        ValueError
            No (valid) sinogram layer or bad parameters.

        Examples
        --------
        >>> worker = widget.start_preview()  # doctest: +SKIP
        """
        layer = self._layer()
        theta, _ = self.theta()
        params = self.parameters()
        job, kwargs = self._job(params)
        index = self.current_index(layer)
        plane = _plane(layer.data, index)
        scale, translate = self._geometry(layer)
        if index is not None:
            translate = (translate[0] + index * scale[0], *translate[1:])
        meta = {"source": layer.name, "slice": index, **params}
        meta["clip"] = list(params["clip"]) if params.get("clip") else None

        def put(image: np.ndarray) -> None:
            data = image if index is None else image[None]
            if PREVIEW_NAME in self.viewer.layers:
                target = self.viewer.layers[PREVIEW_NAME]
                if target.data.shape != data.shape or target.ndim != data.ndim:
                    self.viewer.layers.remove(target)
            if PREVIEW_NAME in self.viewer.layers:
                target = self.viewer.layers[PREVIEW_NAME]
                target.data = data
                target.scale = scale if index is not None else scale[-2:]
                target.translate = translate if index is not None else translate[-2:]
                target.metadata = meta
            else:
                self.viewer.add_image(
                    data,
                    name=PREVIEW_NAME,
                    scale=scale if index is not None else scale[-2:],
                    translate=translate if index is not None else translate[-2:],
                    colormap="gray",
                    metadata=meta,
                )

        def yielded(part: Partial) -> None:
            put(part.block)

        def finished() -> None:
            if self._preview_pending:
                self._preview_pending = False
                self._preview_timer.start()

        return self.preview_controls.start(
            job,
            plane,
            theta,
            **kwargs,
            on_returned=put,
            on_yielded=yielded,
            on_finished=finished,
            description="Preview",
        )
