"""The report site in a real headless Chromium: every page loads without a console error,
every figure div holds Plotly's rendered SVG, and no subplot is drawn empty.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``), so
no selenium, driver or websocket library is needed: Debian's ``chromium`` package is all.
Without it the test skips, unless ``CI`` is set, where it fails. ``BENCH_CHROMIUM`` names
another binary.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reports import html as h
from reports._plot import figure, grid, note
from reports.site import build_site

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import edge_frames, make_frames

pytestmark = pytest.mark.browser

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)

# Resolves once every figure's Plotly.newPlot promise has; reports what each figure div holds.
RENDERED = """
Promise.all(Object.values(window.benchFigures || {})).then(function () {
  return JSON.stringify(Array.from(document.querySelectorAll('div.bench-figure')).map(
    function (d) { return [d.id, d.querySelectorAll('svg.main-svg').length]; }));
})
"""


# The cartesian subplots of a rendered figure: plot areas in CSS pixels from the figure
# div's corner, each with its title annotation if any. Taken from the figure's layout (every
# x axis with the y axis it anchors to), not only from the subplots plotly drew: plotly
# draws no axes for a pair that no trace uses, which leaves its title over blank space.
SUBPLOTS = """
(function (id) {
  var gd = document.getElementById(id), fl = gd._fullLayout, r = gd.getBoundingClientRect();
  var size = fl._size, notes = fl.annotations || [], ids = {};
  fl._subplots.cartesian.forEach(function (sp) { ids[sp] = true; });
  Object.keys(gd.layout).forEach(function (k) {
    var m = /^xaxis(\\d*)$/.exec(k);
    if (m) ids['x' + m[1] + (gd.layout[k].anchor || 'y')] = true;
  });
  function axis(name) { return gd.layout[name] || fl[name] || {}; }
  return {
    box: {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height},
    subplots: Object.keys(ids).sort().map(function (sp) {
      var m = /^x(\\d*)y(\\d*)$/.exec(sp);
      var dx = axis('xaxis' + m[1]).domain || [0, 1], dy = axis('yaxis' + m[2]).domain || [0, 1];
      var title = notes.filter(function (a) {
        return a.xref === 'paper' && a.yref === 'paper' && a.x > dx[0] && a.x < dx[1] &&
          Math.abs(a.y - dy[1]) < 1e-6;
      }).map(function (a) { return a.text; })[0] || '';
      return {id: sp, title: title, x: size.l + dx[0] * size.w,
              y: size.t + (1 - dy[1]) * size.h, w: (dx[1] - dx[0]) * size.w,
              h: (dy[1] - dy[0]) * size.h};
    }),
    buttons: (fl.updatemenus || []).reduce(function (all, m) {
      return all.concat((m.buttons || []).map(function (b) { return b.label; }));
    }, [])
  };
})
"""

# Only data counts as ink: annotations (a note in an empty panel), shapes (the break-even
# line), the legend, the menus and the modebar are hidden before the screenshot.
HIDE_NON_DATA = """
(function () {
  if (document.getElementById('bench-ink-style')) return;
  var s = document.createElement('style');
  s.id = 'bench-ink-style';
  s.textContent = '.bench-figure .annotation, .bench-figure .shapelayer, .bench-figure .legend,' +
    ' .bench-figure .updatemenu-container, .bench-figure .modebar-container,' +
    ' .bench-figure .infolayer .g-gtitle { visibility: hidden !important; }';
  document.head.appendChild(s);
})()
"""

# Decodes the PNG the browser took and counts, per rectangle, the pixels that are neither
# white nor the light grey of the grid (antialiased grid lines included): the data's ink.
COUNT_INK = """
(async function (src, rects, inset) {
  var img = new Image();
  img.src = src;
  await img.decode();
  var c = document.createElement('canvas');
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  var ctx = c.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(img, 0, 0);
  return rects.map(function (r) {
    var x0 = Math.ceil(r.x) + inset, y0 = Math.ceil(r.y) + inset;
    var w = Math.floor(r.x + r.w) - inset - x0, h = Math.floor(r.y + r.h) - inset - y0;
    if (w <= 0 || h <= 0) return 0;
    var d = ctx.getImageData(x0, y0, w, h).data, n = 0;
    for (var i = 0; i < d.length; i += 4) {
      var hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
      if (lo < 200 || hi - lo > 12) n++;
    }
    return n;
  });
})
"""

# Applies one updatemenu button (a view, a workload) the way a click would.
PRESS = """
(function (id, label) {
  var gd = document.getElementById(id), b;
  (gd.layout.updatemenus || []).forEach(function (m) {
    (m.buttons || []).forEach(function (x) { if (x.label === label) b = x; });
  });
  var a = b.args;
  var done = b.method === 'update' ? Plotly.update(gd, a[0], a[1])
    : b.method === 'restyle' ? Plotly.restyle(gd, a[0], a[1]) : Plotly.relayout(gd, a[0]);
  return done.then(function () { return true; });
})
"""

INSET = 3  # pixels inside the plot area's border: past the axis lines and their antialiasing
MIN_INK = 10  # a marker of the smallest size used is ~50 pixels


def find_chromium() -> str | None:
    override = os.environ.get("BENCH_CHROMIUM")
    if override:
        return shutil.which(override) or (override if Path(override).exists() else None)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium spoken to over the DevTools protocol on fds 3 and 4."""

    def __init__(self, binary: str, *, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="bench-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child: the protocol wants exactly fds 3 and 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire,  # noqa: PLW1509 - no threads in the parent at this point
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    # -- protocol
    def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    # -- pages
    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def load(self, url: str, *, width: int = 1400, height: int = 1000) -> None:
        self.events.clear()
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text", "evaluation failed"))
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen since ``load``."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif method == "Page.javascriptDialogOpening":
                out.append(f"dialog opened: {p.get('message')}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        return out

    def screenshot_element(self, selector: str, path: Path, *, pad: int = 8) -> None:
        box = self.evaluate(
            "(function(){var r=document.querySelector("
            + json.dumps(selector)
            + ").getBoundingClientRect();return {x:r.left+window.scrollX,y:r.top+window.scrollY,"
            "w:r.width,h:r.height};})()"
        )
        clip = {
            "x": max(0, box["x"] - pad),
            "y": max(0, box["y"] - pad),
            "width": box["w"] + 2 * pad,
            "height": box["h"] + 2 * pad,
            "scale": 1,
        }
        shot = self.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def ink(self, figure_id: str) -> list[tuple[dict[str, Any], int]]:
        """(subplot, ink pixels in its plot area) for each cartesian subplot of a figure as
        the page shows it now, from a real screenshot (Page.captureScreenshot)."""
        found = self.evaluate(f"{SUBPLOTS}({json.dumps(figure_id)})")
        if not found["subplots"]:
            return []
        self.evaluate(HIDE_NON_DATA)
        box = found["box"]
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "clip": {"x": box["x"], "y": box["y"], "width": box["w"], "height": box["h"]}
                | {"scale": 1},
                "captureBeyondViewport": True,
            },
        )
        src = "data:image/png;base64," + shot["data"]
        args = ", ".join(json.dumps(a) for a in (src, found["subplots"], INSET))
        counts = self.evaluate(f"{COUNT_INK}({args})")
        return list(zip(found["subplots"], counts, strict=True))

    def empty_subplots(self, figure_id: str) -> list[str]:
        """The subplots of a figure with no data drawn in their plot area, in its first
        state and after each of its menu buttons (the speedup view, each workload)."""
        states = [""] + self.evaluate(f"{SUBPLOTS}({json.dumps(figure_id)})")["buttons"]
        empty = []
        for label in states:
            if label:
                self.evaluate(f"{PRESS}({json.dumps(figure_id)}, {json.dumps(label)})")
            for sub, n in self.ink(figure_id):
                if n < MIN_INK:
                    state = f" after button {label!r}" if label else ""
                    empty.append(
                        f"{figure_id} subplot {sub['id']} {sub['title']!r}{state}: {n} ink pixels"
                    )
        return empty

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", session=False)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium():
    binary = find_chromium()
    if binary is None:
        reason = "headless Chromium not found (apt-get install chromium, or set BENCH_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the browser test must run")
        pytest.skip(reason)
    browser = Chromium(binary)
    try:
        browser.open_page()
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    runs, results = make_frames(4, suites=("nightly", "smoke"))
    runs.loc[runs.index[-1], "label"] = "<script>alert(1)</script>"
    # and two runs of the figures' edge cases: one channel count, no sweeps, no pairs,
    # points above an under-measured roof, noisy and contended pairs
    edge_runs, edge_results = edge_frames()
    runs = pd.concat([runs, edge_runs], ignore_index=True)
    results = pd.concat([results, edge_results], ignore_index=True)
    out = tmp_path_factory.mktemp("site")
    build_site(runs, results, out, title="bench <test>")
    return out


def _pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


def test_every_page_renders_without_errors(chromium, site):
    pages = _pages(site)
    assert any(p.name.startswith("run-") for p in pages)
    assert any(p.name.startswith("trend-") for p in pages)
    problems = {}
    figures_seen = 0
    for page in pages:
        chromium.load(page.as_uri())
        rendered = json.loads(chromium.evaluate(RENDERED))
        figures_seen += len(rendered)
        empty = [fid for fid, n in rendered if n == 0]
        errors = chromium.errors()
        if empty or errors:
            problems[page.name] = {"figures without SVG": empty, "errors": errors}
    assert not problems, problems
    assert figures_seen > 0


def test_no_subplot_is_drawn_empty(chromium, site):
    """A real rendered image of every figure on every page, in every state of its menus:
    each cartesian subplot has data ink in its plot area."""
    problems = []
    checked = 0
    for page in _pages(site):
        chromium.load(page.as_uri())
        for fid, _ in json.loads(chromium.evaluate(RENDERED)):
            checked += 1
            problems += [f"{page.name}: {e}" for e in chromium.empty_subplots(fid)]
    assert not problems, "\n".join(problems)
    assert checked >= 24  # 4 + 2 run pages (2 to 4 figures each) and 3 trend pages


def test_empty_subplot_checker_finds_an_empty_subplot(chromium, site, tmp_path):
    """The checker fails where it should: two subplots, data in the first only, and a note
    (text is not data) in the second."""
    layout, axes = grid(2, cols=2, titles=["with data", "without"])
    (x1, y1), (x2, y2) = axes
    layout["annotations"].append(note("nothing to show", xref=f"{x2} domain", yref=f"{y2} domain"))
    data = [{"type": "scatter", "x": [1, 2, 3], "y": [3, 1, 2], "xaxis": x1, "yaxis": y1}]
    spec = figure(data, layout | {"width": 900, "height": 400})
    page = tmp_path / "empty.html"
    body = h.figure_block(spec, "fig-empty")
    page.write_text(h.page(title="t", site_title="s", body=body, plotly=True))
    shutil.copy(site / "plotly.min.js", tmp_path / "plotly.min.js")
    chromium.load(page.as_uri())
    chromium.evaluate(RENDERED)
    ink = {sub["id"]: n for sub, n in chromium.ink("fig-empty")}
    assert ink["xy"] >= MIN_INK
    assert ink["x2y2"] == 0
    assert chromium.empty_subplots("fig-empty") == [
        "fig-empty subplot x2y2 '<b>without</b>': 0 ink pixels"
    ]
    assert chromium.errors() == []


def test_run_page_has_every_figure(chromium, site):
    full = max(_pages(site), key=lambda p: p.read_text().count('class="bench-figure"'))
    chromium.load(full.as_uri())
    rendered = dict(json.loads(chromium.evaluate(RENDERED)))
    for fid in ("fig-speedup", "fig-roofline", "fig-batch", "fig-networks"):
        assert rendered.get(fid, 0) > 0, (fid, rendered)


def test_speedup_view_button_and_trend_filters(chromium, site):
    run = max(
        (p for p in _pages(site) if p.name.startswith("run-")), key=lambda p: p.stat().st_size
    )
    chromium.load(run.as_uri())
    chromium.evaluate(RENDERED)
    views = chromium.evaluate(
        "(function(){var gd=document.getElementById('fig-speedup');"
        "var a=gd.layout.updatemenus[0].buttons[1].args;"
        "return Plotly.update(gd,a[0],a[1]).then(function(){"
        "return gd.data.filter(function(t){return t.visible===true;})"
        ".map(function(t){return t.meta.view;});});})()"
    )
    assert views and set(views) == {"speedup"}
    assert chromium.errors() == []

    chromium.load((site / "trend-nightly.html").as_uri())
    chromium.evaluate(RENDERED)
    shown = chromium.evaluate(
        "(function(){var s=document.querySelector('select[data-axis=workload]');"
        "s.value='depthwise';s.dispatchEvent(new Event('change'));"
        "return window.benchTrends.ready.then(function(gd){"  # its detail file, loaded
        "return gd.data.filter(function(t){return t.visible!==false;})"
        ".map(function(t){return t.meta.params.workload;});});})()"
    )
    assert shown and set(shown) == {"depthwise"}
    assert "showing 20 of 100 cases" in chromium.evaluate(
        "document.getElementById('shown-count').textContent"
    )
    assert chromium.errors() == []


def test_hostile_label_is_text(chromium, site):
    page = next(
        p for p in _pages(site) if p.name.startswith("run-") and "&lt;script&gt;" in p.read_text()
    )
    chromium.load(page.as_uri())
    assert chromium.evaluate("document.querySelector('h1 .badge').textContent") == (
        "<script>alert(1)</script>"
    )
    assert chromium.errors() == []


def test_empty_site_loads(chromium, tmp_path):
    runs, results = make_frames(1)
    index = build_site(runs.iloc[0:0], results.iloc[0:0], tmp_path)
    chromium.load(index.as_uri())
    assert chromium.errors() == []
    assert "No runs" in chromium.evaluate("document.body.innerText")


def test_sorting_the_runs_table(chromium, site):
    chromium.load((site / "index.html").as_uri())
    column = chromium.evaluate(  # the "ok" column of the first suite's runs
        "(function(){var t=document.getElementById('runs-table-0');"
        "return Array.from(t.tHead.rows[0].cells).map(function(c){return c.textContent;})"
        ".indexOf('ok');})()"
    )
    assert column > 0
    first = chromium.evaluate(
        "(function(){var t=document.getElementById('runs-table-0');"
        f"t.tHead.rows[0].cells[{column}].click();"  # ascending
        "return Array.from(t.tBodies[0].rows).map(function(r){"
        f"return Number(r.cells[{column}].textContent);}});}})()"
    )
    assert len(first) >= 2 and first == sorted(first)
    assert chromium.errors() == []


@pytest.fixture(scope="module")
def long_site(tmp_path_factory):
    """Twelve nightly runs, the newest 4 drawn one point each and the older ones by week,
    with a regression flagged on a depthwise case."""
    from reports import page_trends

    runs, results = make_frames(12, suites=("nightly",))
    ok = results[(results["status"] == "ok") & (results["workload"] == "depthwise")]
    key = ok["case_key"].iloc[0]
    last = sorted(ok.loc[ok["case_key"] == key, "run_id"])[-2:]
    marks = pd.DataFrame(
        {
            "case_key": [key] * 3,
            "run_id": [last[0], last[1], last[0]],
            "verdict": ["slower"] * 3,
            "kind": ["recent", "recent", "change"],
        }
    )
    out = tmp_path_factory.mktemp("long-site")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(page_trends, "RECENT_RUNS", 4)
        build_site(runs, results, out, regression_marks=marks)
    return out


# The number of points of each case's median line in the detail figure, once drawn.
POINTS = (
    "window.benchTrends.ready.then(function (gd) { return gd.data.filter(function (t) {"
    " return t.meta.role === 'median' && t.visible !== false; })"
    ".map(function (t) { return t.x.length; }); })"
)


def test_trend_detail_loads_from_file_urls_weekly_and_every_run(chromium, long_site):
    """The detail of a workload comes from data/*.js files, loaded by <script> elements
    from a file:// page (fetch() could not), first with weekly points, then every run."""
    chromium.load((long_site / "trend-nightly.html").as_uri())
    rendered = dict(json.loads(chromium.evaluate(RENDERED)))
    assert {"fig-overview", "fig-flagged", "fig-trends"} <= set(rendered)
    assert all(n > 0 for n in rendered.values()), rendered
    assert max(chromium.evaluate(POINTS)) == 4 + 2  # 4 runs and the 2 weeks before them
    problems = [e for fid in rendered for e in chromium.empty_subplots(fid)]
    full = (
        "(function () { var c = document.getElementById('trend-full'); c.checked = true;"
        " c.dispatchEvent(new Event('change')); return true; })()"
    )
    assert chromium.evaluate(full)
    assert max(chromium.evaluate(POINTS)) == 12
    problems += chromium.empty_subplots("fig-trends")
    assert not problems, problems
    loaded = chromium.evaluate(
        "Array.from(document.querySelectorAll('script[src]'))"
        ".map(function (s) { return s.getAttribute('src'); })"
    )
    assert loaded == [
        "plotly.min.js",
        "data/trend-nightly.conv.js",  # 100 cases: the detail opens on the first workload
        "data/trend-nightly.conv.full.js",
    ]
    chromium.evaluate(  # the flagged case's workload, with its marks drawn from the file
        "(function () { var s = document.querySelector('select[data-axis=workload]');"
        " s.value = 'depthwise'; s.dispatchEvent(new Event('change')); return true; })()"
    )
    roles = chromium.evaluate(
        "window.benchTrends.ready.then(function (gd) { return gd.data.map(function (t) {"
        " return t.meta.role; }); })"
    )
    assert roles.count("change") == 1 and roles.count("mark") == 1
    assert "showing 20 of 100 cases" in chromium.evaluate(
        "document.getElementById('shown-count').textContent"
    )
    assert chromium.errors() == []


def test_a_missing_detail_file_is_an_error_not_a_blank_figure(chromium, long_site, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(long_site, broken)
    (broken / "data" / "trend-nightly.conv.js").unlink()
    chromium.load((broken / "trend-nightly.html").as_uri())
    with pytest.raises(RuntimeError):
        chromium.evaluate(RENDERED)  # the detail figure's promise rejects
    assert any("trend-nightly.conv.js" in e for e in chromium.errors())
