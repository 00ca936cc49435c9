"""The pages' stylesheet and inline scripts: sortable tables, trend filters, trend details."""

CSS = """
:root { --fg: #1d1d1f; --muted: #666; --line: #ddd; --ok: #1a7f37; --bad: #cf222e;
  --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1.5em;
  border-bottom: 1px solid var(--line); background: #fafafa; }
header .site { font-weight: 600; }
main { padding: 0 1.5em 2em; max-width: 1400px; }
h1 { font-size: 1.6em; margin: .6em 0 .2em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .3em; border-bottom: 1px solid var(--line);
  padding-bottom: .2em; }
.intro, .caption { color: var(--muted); max-width: 75em; }
.message { padding: 1em; background: #f6f8fa; border: 1px dashed #bbb; border-radius: 6px;
  max-width: 60em; }
.message.warn { border-color: var(--warn); }
.bench-figure { width: 100%; min-height: 200px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1em 1.2em;
  margin: .5em 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 13px; margin: .5em 0; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: .25em .6em;
  text-align: left; vertical-align: top; }
table.data th { background: #f6f8fa; position: sticky; top: 0; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " ▲"; }
table.sortable th[aria-sort=descending]::after { content: " ▼"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
td.status-ok, td.status-finished { color: var(--ok); }
td.status-failed, td.status-interrupted { color: var(--bad); font-weight: 600; }
td.status-skipped, td.status-running, td.status-stale { color: var(--warn); }
td.error { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap;
  max-width: 40em; }
td.noisy { color: var(--warn); }
.badge { display: inline-block; padding: 0 .5em; border-radius: 1em; background: #eef;
  font-size: .8em; margin-left: .5em; }
.filters { display: flex; flex-wrap: wrap; gap: .6em 1.2em; margin: .6em 0; }
.filters label { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding: 1em 1.5em;
  border-top: 1px solid var(--line); }
details pre { font-size: 12px; background: #f6f8fa; padding: .8em; overflow: auto;
  max-height: 30em; }
"""


# Click a header to sort by that column; numbers (a cell's data-sort, else its text)
# before text, empty cells last.
SORT_JS = """
(function () {
  function key(td) {
    var v = td.getAttribute('data-sort');
    if (v === null) v = td.textContent.trim();
    var n = Number(v);
    return v !== '' && isFinite(n) ? [0, n] : [v === '' ? 2 : 1, v.toLowerCase()];
  }
  function cmp(a, b) {
    if (a[0] !== b[0]) return a[0] - b[0];
    return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
  }
  document.querySelectorAll('table.sortable').forEach(function (t) {
    var hs = t.tHead.rows[0].cells;
    Array.prototype.forEach.call(hs, function (th, i) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(hs, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = t.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (x, y) {
          var c = cmp(key(x.cells[i]), key(y.cells[i]));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""


# Shows the traces whose meta.params match every chosen axis value (a band, a median
# line and the marks of one case share their meta).
FILTER_JS = """
(function () {
  var id = "FIGURE_ID";
  var selects = document.querySelectorAll('#filters select[data-axis]');
  function apply(gd) {
    var want = {};
    selects.forEach(function (s) { if (s.value !== '') want[s.dataset.axis] = s.value; });
    var cases = {}, shown = {};
    var visible = gd.data.map(function (t) {
      var m = t.meta || {}, p = m.params || {};
      cases[m.case] = 1;
      for (var k in want) { if (p[k] !== want[k]) return false; }
      shown[m.case] = 1;
      return true;
    });
    Plotly.restyle(gd, {visible: visible});
    var el = document.getElementById('shown-count');
    if (el) {
      el.textContent = 'showing ' + Object.keys(shown).length + ' of ' +
        Object.keys(cases).length + ' cases';
    }
  }
  window.benchFigures[id].then(function (gd) {
    selects.forEach(function (s) { s.addEventListener('change', function () { apply(gd); }); });
    apply(gd);
  });
})();
"""


# The detail figure of a trends page. config: {figure: div id, files: {workload: {recent:
# path, full: path or null}}, cases: the suite's number of cases, colors, verdicts: {verdict:
# color}, plotly: Plotly's config}. The chosen workload's file (every workload's, for "all")
# is loaded by a <script> element, which works from file:// where fetch() does not; the
# file assigns its payload to window.benchTrendData[path]. A payload has the x axis once
# and per case median/q1/q3 arrays (null: no point); traces are built here as
# reports.figures_trends draws them (an IQR band and a median line per case, crosses on
# judged runs, triangles on the first run at a new level). window.benchTrends.ready is the
# promise of the latest drawing; window.benchFigures[figure] that of the first.
TRENDS_JS = """
(function () {
  var cfg = JSON.parse(document.getElementById('trend-config').textContent);
  var store = window.benchTrendData = window.benchTrendData || {};
  var gd = document.getElementById(cfg.figure);
  var selects = document.querySelectorAll('#filters select[data-axis]');
  var wsel = document.querySelector('#filters select[data-axis=workload]');
  var full = document.getElementById('trend-full');
  var loads = {};
  function load(src) {
    if (!loads[src]) {
      loads[src] = new Promise(function (ok, fail) {
        var s = document.createElement('script');
        s.src = src;
        s.charset = 'utf-8';
        s.onload = function () {
          if (store[src]) ok(store[src]); else fail(new Error(src + ' holds no trend data'));
        };
        s.onerror = function () { delete loads[src]; fail(new Error('cannot load ' + src)); };
        document.head.appendChild(s);
      });
    }
    return loads[src];
  }
  function rgba(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }
  function marks(p, c, kind, meta) {
    var ms = p.marks.filter(function (m) { return m.c === c && m.k === kind; });
    if (!ms.length) return null;
    var name = p.cases[c].name, change = kind === 'change';
    var colors = ms.map(function (m) { return cfg.verdicts[m.v] || '#555'; });
    var marker = change ? {
      symbol: ms.map(function (m) {
        var down = m.v === 'faster' || m.v === 'improvement';
        return down ? 'triangle-down-open' : 'triangle-up-open';
      }),
      size: 15, line: {width: 2.5, color: colors}, color: colors
    } : {symbol: 'x-thin-open', size: 16, line: {width: 3}, color: colors};
    return {
      type: 'scatter', mode: 'markers', showlegend: false, legendgroup: meta.case,
      x: ms.map(function (m) { return m.x; }), y: ms.map(function (m) { return m.y; }),
      name: name + (change ? ' level change' : ' verdict'), marker: marker,
      customdata: ms.map(function (m) { return m.v; }),
      hovertemplate: '<b>' + name + '</b><br>' + (change
        ? 'level changed here (%{customdata}): first run at the new level'
        : '%{customdata} at %{x}') + '<extra></extra>',
      meta: {case: meta.case, params: meta.params, role: change ? 'change' : 'mark'}
    };
  }
  function traces(p, offset) {
    var out = [];
    p.cases.forEach(function (c, i) {
      var col = cfg.colors[(offset + i) % cfg.colors.length];
      var x = [], m = [], lo = [], hi = [], cd = [];
      for (var j = 0; j < p.x.length; j++) {
        if (c.m[j] === null) continue;
        x.push(p.x[j]); m.push(c.m[j]); lo.push(c.q1[j]); hi.push(c.q3[j]);
        cd.push([p.hover[j], c.q1[j], c.q3[j]]);
      }
      var meta = {case: c.key, params: c.params};
      out.push({
        type: 'scatter', mode: 'lines', x: x.concat(x.slice().reverse()),
        y: hi.concat(lo.slice().reverse()), fill: 'toself', fillcolor: rgba(col, 0.15),
        line: {width: 0, color: col}, hoverinfo: 'skip', showlegend: false,
        legendgroup: c.key, name: c.name + ' IQR',
        meta: {case: c.key, params: c.params, role: 'band'}
      });
      out.push({
        type: 'scatter', mode: 'lines+markers', x: x, y: m, name: c.name, legendgroup: c.key,
        line: {color: col, width: 1.5}, marker: {size: 5}, customdata: cd,
        hovertemplate: '<b>' + c.name + '</b><br>%{x} · %{customdata[0]}<br>median %{y:.4g} ms' +
          ' (IQR %{customdata[1]:.4g} – %{customdata[2]:.4g})<extra></extra>',
        meta: {case: c.key, params: c.params, role: 'median'}
      });
      ['recent', 'change'].forEach(function (kind) {
        var t = marks(p, i, kind, meta);
        if (t) out.push(t);
      });
    });
    return out;
  }
  function layout(ps) {
    var l = JSON.parse(JSON.stringify(ps[0].layout));
    if (ps.length > 1) l.yaxis = JSON.parse(JSON.stringify(cfg.yaxis));  // every workload
    return l;
  }
  function filter() {
    var want = {};
    selects.forEach(function (s) { if (s.value !== '') want[s.dataset.axis] = s.value; });
    var shown = {};
    var visible = gd.data.map(function (t) {
      var p = t.meta.params || {};
      for (var k in want) { if (p[k] !== want[k]) return false; }
      shown[t.meta.case] = 1;
      return true;
    });
    var el = document.getElementById('shown-count');
    if (el) {
      el.textContent = 'showing ' + Object.keys(shown).length + ' of ' + cfg.cases + ' cases';
    }
    return Plotly.restyle(gd, {visible: visible});
  }
  function render() {
    var w = wsel ? wsel.value : '';
    var names = w === '' ? Object.keys(cfg.files) : [w];
    var view = full && full.checked ? 'full' : 'recent';
    var srcs = names.map(function (n) { return cfg.files[n][view] || cfg.files[n].recent; });
    return Promise.all(srcs.map(load)).then(function (ps) {
      var data = [], offset = 0;
      ps.forEach(function (p) { data = data.concat(traces(p, offset)); offset += p.cases.length; });
      return Plotly.react(gd, data, layout(ps), cfg.plotly);
    }).then(filter).then(function () { return gd; });
  }
  var bench = window.benchTrends = {render: render};
  function redraw(all) {
    bench.ready = (all ? render() : filter().then(function () { return gd; }));
    bench.ready.catch(function (e) { console.error(String(e)); });
  }
  selects.forEach(function (s) {
    s.addEventListener('change', function () { redraw(s === wsel); });
  });
  if (full) full.addEventListener('change', function () { redraw(true); });
  redraw(true);
  window.benchFigures[cfg.figure] = bench.ready;
})();
"""
