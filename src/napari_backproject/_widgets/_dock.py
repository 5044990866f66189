"""Layout shared by the dock widgets: form, button row, job panels.

Every dock widget stacks its magicgui form, one row of buttons and one or
more :class:`~._job.JobControls` panels, and refreshes its layer choices
whenever layers are added to or removed from the viewer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = [
    "beside",
    "config_dir",
    "dock_layout",
    "follow_layers",
    "layers_guard",
    "persist",
    "units_of",
]


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


def units_of(layer: Any, n: int | None = None) -> tuple[str, ...] | None:
    """The layer's axis units as strings (the last ``n``), or None when all pixels.

    Examples
    --------
    >>> units_of(viewer.layers["helix"])  # doctest: +SKIP
    ('micrometer', 'micrometer', 'micrometer')
    """
    units = getattr(layer, "units", None)
    if units is None:
        return None
    names = tuple(str(u) for u in units)
    if n is not None:
        names = names[-n:] if n else ()
    if all(u == "pixel" for u in names):
        return None
    return names


def layers_guard(viewer: napari.Viewer, *layers: Any) -> Callable[[], str | None]:
    """A guard for :meth:`JobControls.start`: a message once an input layer is gone.

    Examples
    --------
    >>> guard = layers_guard(viewer, image)  # doctest: +SKIP
    >>> guard() is None  # doctest: +SKIP
    True
    """
    names = [getattr(layer, "name", "?") for layer in layers]

    def guard() -> str | None:
        present = list(viewer.layers)
        gone = [
            n for layer, n in zip(layers, names, strict=True) if layer not in present
        ]
        if gone:
            which = ", ".join(repr(n) for n in gone)
            return f"its input layer {which} was removed while it ran."
        return None

    return guard


def config_dir() -> Path:
    """Where the widgets keep their settings (under napari's config folder).

    ``NAPARI_BACKPROJECT_CONFIG_DIR`` overrides it (tests use a temporary
    folder).

    Examples
    --------
    >>> config_dir().name  # doctest: +SKIP
    'napari-backproject'
    """
    env = os.environ.get("NAPARI_BACKPROJECT_CONFIG_DIR")
    if env:
        return Path(env)
    from napari.settings import get_settings

    path = getattr(get_settings(), "config_path", None)
    base = Path(path).parent if path else Path.home() / ".config" / "napari"
    return base / "napari-backproject"


def _persistable(widget: Any) -> bool:
    from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, SpinBox

    if isinstance(widget, ComboBox):
        return all(isinstance(c, (str, int, float)) for c in widget.choices)
    return isinstance(widget, (SpinBox, FloatSpinBox, CheckBox))


def persist(name: str, widgets: Sequence[Any]) -> None:
    """Restore ``widgets``' values saved under ``name`` and save them on change.

    Only plain values (numbers, check boxes, text choices) are kept, never
    layer choices or file names. A missing or unreadable file is ignored.

    Examples
    --------
    >>> persist("straighten", [widget.width, widget.height])  # doctest: +SKIP
    """
    widgets = [w for w in widgets if _persistable(w)]
    path = config_dir() / f"{name}.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    for widget in widgets:
        key = widget.label or widget.name
        if key in saved:
            try:
                widget.value = saved[key]
            except (ValueError, TypeError):
                pass

    def _save(*_: Any) -> None:
        values = {w.label or w.name: w.value for w in widgets}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".json.part")
            tmp.write_text(json.dumps(values, indent=1))
            os.replace(tmp, path)
        except OSError:  # pragma: no cover - read-only config: keep going
            pass

    for widget in widgets:
        widget.changed.connect(_save)


def beside(layer: Any, gap: float = 0.1) -> tuple[float, ...]:
    """A translate that puts a new layer next to ``layer`` (along x), not on it.

    The new layer starts at ``layer``'s world minimum on every axis but the
    last, and a ``gap`` (fraction of ``layer``'s x extent) past its maximum
    on the last axis.

    Examples
    --------
    >>> beside(viewer.layers["helix"])  # doctest: +SKIP
    (0.0, 0.0, 70.4)
    """
    extent = np.asarray(layer.extent.world, dtype=float)
    lo, hi = extent[0], extent[1]
    width = hi[-1] - lo[-1]
    return (*map(float, lo[:-1]), float(hi[-1] + gap * max(width, 1.0)))
