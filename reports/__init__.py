"""HTML reports: Plotly pages built from the pandas frames of ``results.frames``.

``reports`` never imports torch, SQLAlchemy or the ``harness`` package; importing it is
instant, and ``reports.build_site`` loads pandas and plotly on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reports.site import build_site

__all__ = ["build_site"]


def __getattr__(name: str) -> Any:
    if name == "build_site":
        from reports.site import build_site

        return build_site
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
