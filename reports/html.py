"""HTML templates: the page shell, figure blocks, tables, messages and the inline scripts.

Every string that came from a user or from the data (suite names, labels, parameter
values, error messages, environment) passes through ``esc`` (``html.escape``); the only
markup that is not escaped is built here from constants. Figures are embedded as JSON in
a ``<script>`` whose ``<``, ``>`` and ``&`` are \\u-escaped, so no string in a figure can
close the script. Pages load ``plotly.min.js`` from the site folder by a relative path.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from reports.assets import CSS, FILTER_JS, SORT_JS, TRENDS_JS

PLOTLY_JS = "plotly.min.js"
PLOTLY_CONFIG = '{"responsive": true, "displaylogo": false}'


_SPECIAL = re.compile(r"[<>&\"']")


def esc(value: object, quote: bool = True) -> str:
    """html.escape of ``str(value)``; None is the empty string. The package's one escape:
    pages use it as is; Plotly labels through ``reports._plot.esc`` (``quote=False``,
    since plotly.js does not decode ``&quot;``)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return html.escape(text, quote=quote) if _SPECIAL.search(text) else text


def cell(
    text: object = "",
    sort: object = None,
    href: str | None = None,
    cls: str | None = None,
    title: str | None = None,
) -> str:
    """One table cell's markup: text (escaped), an optional sort key, link, class, title."""
    body = esc(text)
    if href:
        body = f'<a href="{esc(href)}">{body}</a>'
    attrs = ""
    if sort is not None:
        attrs += f' data-sort="{esc(sort)}"'
    if cls:
        attrs += f' class="{esc(cls)}"'
    if title:
        attrs += f' title="{esc(title)}"'
    return f"<td{attrs}>{body}</td>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    table_id: str,
    sortable: bool = True,
    numeric: Sequence[str] = (),
) -> str:
    head = "".join(
        f'<th{" class=num" if h in numeric else ""} scope="col">{esc(h)}</th>' for h in headers
    )
    body = "\n".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    cls = "data sortable" if sortable else "data"
    return (
        f'<div class="table-wrap"><table id="{esc(table_id)}" class="{cls}">'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>"
    )


def figure_json(fig: go.Figure | Mapping[str, Any]) -> str:
    """The figure (a go.Figure or a {"data", "layout"} spec) as a JavaScript literal that is
    safe inside a <script>: JSON, except that missing values may be ``NaN`` (which Plotly
    treats as a gap, like null)."""
    if isinstance(fig, go.Figure):
        text = pio.to_json(fig, validate=False, remove_uids=True)
    else:
        text = json.dumps(fig, separators=(",", ":"), default=_scalar)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _scalar(obj: Any) -> Any:
    """What json cannot encode by itself: numpy arrays and scalars, NA, timestamps."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, pd.Timestamp | datetime):
        return obj.isoformat()
    return str(obj)


def figure_block(fig: go.Figure | Mapping[str, Any], div_id: str, *, caption: str = "") -> str:
    """A div that Plotly renders into, the script that does it, and a caption (escaped)."""
    did = esc(div_id)
    cap = f'<p class="caption">{esc(caption)}</p>' if caption else ""
    return (
        f'<div class="bench-figure" id="{did}"></div>{cap}\n'
        f"<script>(function(){{var f={figure_json(fig)};"
        f'window.benchFigures["{did}"]=Plotly.newPlot("{did}",f.data,f.layout,{PLOTLY_CONFIG});'
        f"}})();</script>"
    )


def message(text: str, *, kind: str = "empty", raw: bool = False) -> str:
    """A sentence that stands where a figure would be. ``raw``: ``text`` is markup the
    caller built (and escaped) itself, e.g. with a link."""
    return f'<p class="message {esc(kind)}">{text if raw else esc(text)}</p>'


def section(anchor: str, heading: str, body: str, *, intro: str = "") -> str:
    intro_html = f'<p class="intro">{esc(intro)}</p>' if intro else ""
    return f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{intro_html}\n{body}\n</section>'


def definition_list(items: Iterable[tuple[str, object]]) -> str:
    """A compact key/value block; values are escaped."""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items if v not in (None, ""))
    return f'<dl class="meta">{body}</dl>'


def page(
    *,
    title: str,
    site_title: str,
    body: str,
    nav: Sequence[tuple[str, str]] = (),
    plotly: bool = False,
    generated: str = "",
) -> str:
    """A complete HTML document. ``nav`` is (href, text) pairs, both escaped."""
    links = " · ".join(f'<a href="{esc(h)}">{esc(t)}</a>' for h, t in nav)
    plotly_tag = (
        f'<script src="{PLOTLY_JS}" charset="utf-8"></script>'
        "<script>window.benchFigures={};</script>"
        if plotly
        else ""
    )
    footer = f"<footer>{esc(generated)}</footer>" if generated else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · {esc(site_title)}</title>
<style>{CSS}</style>
{plotly_tag}
</head>
<body>
<header><span class="site">{esc(site_title)}</span><nav>{links}</nav></header>
<main>
{body}
</main>
{footer}
<script>{SORT_JS}</script>
</body>
</html>
"""


def filter_controls(
    axes: dict[str, list[str]], *, preset: dict[str, str], required: Sequence[str] = ()
) -> str:
    """Selects that show only the trend lines whose case matches every chosen axis value;
    the axes in ``required`` have no "all" choice.

    Put ``filter_script`` (or ``trends_script``) after the figure block it acts on.
    """
    if not axes:
        return ""
    parts = []
    for axis, values in axes.items():
        options = ([] if axis in required else ['<option value="">all</option>']) + [
            f'<option value="{esc(v)}"{" selected" if preset.get(axis) == v else ""}>'
            f"{esc(v)}</option>"
            for v in values
        ]
        select = f'<select data-axis="{esc(axis)}">{"".join(options)}</select>'
        parts.append(f"<label>{esc(axis)} {select}</label>")
    return f'<div class="filters" id="filters">{"".join(parts)}<span id="shown-count"></span></div>'


def filter_script(figure_id: str) -> str:
    return f"<script>{FILTER_JS.replace('FIGURE_ID', esc(figure_id))}</script>"


def trends_script(config: Mapping[str, Any]) -> str:
    """The trends page's detail figure: ``config`` (see ``reports.assets.TRENDS_JS``) and
    the script."""
    return (
        f'<script type="application/json" id="trend-config">{figure_json(config)}</script>'
        f"<script>{TRENDS_JS}</script>"
    )
