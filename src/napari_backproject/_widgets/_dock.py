"""Layout shared by the dock widgets: form, button row, job panels.

Every dock widget stacks its magicgui form, one row of buttons and one or
more :class:`~._job.JobControls` panels, and refreshes its layer choices
whenever layers are added to or removed from the viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["dock_layout", "follow_layers"]


def dock_layout(
    widget: QWidget, form: Any, buttons: Sequence[QWidget], *panels: QWidget
) -> QVBoxLayout:
    """Lay out ``form`` (a magicgui container), a row of ``buttons`` and ``panels``.

    Examples
    --------
    >>> from magicgui.widgets import Container  # doctest: +SKIP
    >>> layout = dock_layout(self, Container(), [run_button], job)  # doctest: +SKIP
    """
    layout = QVBoxLayout(widget)
    layout.addWidget(form.native)
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    layout.addLayout(row)
    for panel in panels:
        layout.addWidget(panel)
    layout.addStretch(1)
    return layout


def follow_layers(viewer: napari.Viewer, reset: Callable[..., Any]) -> None:
    """Call ``reset`` now and whenever a layer is added or removed.

    Examples
    --------
    >>> follow_layers(viewer, widget.reset_choices)  # doctest: +SKIP
    """
    viewer.layers.events.inserted.connect(reset)
    viewer.layers.events.removed.connect(reset)
    reset()
