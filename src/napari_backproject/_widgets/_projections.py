"""What the projection-stack widgets share (Prepare projections, Find centre).

A projection stack is an image layer ``(angle, row, column)``; its actions
report errors in the widget's status line and as a notification.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.utils.notifications import show_error

__all__ = ["PROJECTION_AXES", "guarded", "projections_layer"]

#: axis labels of a projection stack
PROJECTION_AXES = ("angle", "row", "column")


def guarded(
    controls: Any,
    action: Callable[[], Any],
    errors: tuple[type[BaseException], ...] = (ValueError, RuntimeError, TypeError),
) -> Callable[..., None]:
    """A button slot running ``action()``; its errors go to the status line.

    Examples
    --------
    >>> button.clicked.connect(guarded(widget.controls, widget.run))  # doctest: +SKIP
    """

    def run(*_: Any) -> None:
        try:
            action()
        except errors as exc:
            controls.status.setText(str(exc))
            show_error(str(exc))

    return run


def projections_layer(layer: Any) -> Any:
    """Check that ``layer`` is a projection stack ``(angle, row, column)``.

    Raises
    ------
    ValueError
        No layer, or not a 3-D single-channel image (the message says so).

    Examples
    --------
    >>> projections_layer(None)
    Traceback (most recent call last):
    ...
    ValueError: Choose a projections layer (angle, row, column).
    """
    if layer is None:
        raise ValueError("Choose a projections layer (angle, row, column).")
    if layer.data.ndim != 3 or getattr(layer, "rgb", False):
        raise ValueError(
            f"{layer.name!r} has shape {tuple(layer.data.shape)}; projections "
            "are a 3D stack (angle, row, column)."
        )
    return layer
