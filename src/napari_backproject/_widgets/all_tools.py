"""One compact dock holding every tool of the plugin as a tab.

Docking the four (or six) widgets side by side makes a window taller than a
laptop screen; this container shows one tool at a time, each in a scroll
area, so the dock fits a 1,000 px screen. The CT scan-preparation tools are
included when they are installed.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from qtpy.QtCore import QSize
from qtpy.QtWidgets import QFrame, QScrollArea, QTabWidget, QVBoxLayout, QWidget

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["TOOLS", "AllToolsWidget"]

logger = logging.getLogger("napari_backproject")

#: (tab title, module, class) in workflow order; missing modules are skipped
TOOLS = (
    ("Straighten", "straighten", "StraightenWidget"),
    ("Backproject", "backproject", "BackprojectWidget"),
    ("Sinogram", "sinogram", "SinogramWidget"),
    ("Prepare", "prepare_projections", "PrepareProjectionsWidget"),
    ("Centre", "find_center", "FindCenterWidget"),
    ("Reconstruct", "reconstruct", "ReconstructWidget"),
)

#: the dock's preferred height (px): fits a 1,000 px screen with napari's bars
PREFERRED_HEIGHT = 640


class AllToolsWidget(QWidget):
    """Every tool of the plugin in one tabbed dock.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer the tools work on.

    Examples
    --------
    >>> dock = AllToolsWidget(viewer)  # doctest: +SKIP
    >>> dock.tool("Straighten").width.value = 30  # doctest: +SKIP
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.tabs = QTabWidget(self)
        self.tabs.setUsesScrollButtons(True)
        self.tabs.setDocumentMode(True)
        #: the tool widgets by tab title
        self.tools: dict[str, QWidget] = {}
        for title, module, name in TOOLS:
            try:
                cls = getattr(importlib.import_module(f"{__package__}.{module}"), name)
            except (ImportError, AttributeError):
                continue
            tool = cls(napari_viewer)
            scroll = QScrollArea(self)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(tool)
            self.tabs.addTab(scroll, title)
            self.tools[title] = tool
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def tool(self, title: str) -> QWidget:
        """The tool widget in the tab ``title`` (e.g. ``"Reconstruct"``)."""
        return self.tools[title]

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Wide enough for the forms, no taller than :data:`PREFERRED_HEIGHT`."""
        hint = super().sizeHint()
        return QSize(hint.width(), min(hint.height(), PREFERRED_HEIGHT))
