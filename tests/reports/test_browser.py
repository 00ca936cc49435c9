"""The report site in a real headless Chromium: every page loads without a console error
and every figure div holds Plotly's rendered SVG.

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

import pytest

from reports.site import build_site

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import make_frames

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
        "var gd=document.getElementById('fig-trends');"
        "return gd.data.filter(function(t){return t.visible!==false;})"
        ".map(function(t){return t.meta.params.workload;});})()"
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
    first = chromium.evaluate(
        "(function(){var t=document.getElementById('runs-table');"
        "t.tHead.rows[0].cells[8].click();"  # ok column, ascending
        "return Array.from(t.tBodies[0].rows).map(function(r){"
        "return Number(r.cells[8].textContent);});})()"
    )
    assert first == sorted(first)
    assert chromium.errors() == []
