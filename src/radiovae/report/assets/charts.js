/* radiovae report: interactive charts (uPlot) from the JSON in #radiovae-charts.
   Spec: radiovae/report/charts.py (rendering the figures figspec.py describes). Smoothing: the
   same debiased EMA as radiovae/analysis/smoothing.py (TensorBoard's), over the group means `y`.
   Interaction: drag = zoom, Shift+drag (or middle button) = pan, Alt/Ctrl+wheel = zoom,
   double-click = reset; click a legend entry to hide or show that series (or run). */
(function () {
  "use strict";
  var status = {expected: 0, charts: 0, painted: [], errors: [], smoothed: {}, weight: null};
  window.addEventListener("error", function (e) {
    status.errors.push(String(e.message || e)); writeStatus();
  });
  function writeStatus() {
    var el = document.getElementById("radiovae-status");
    if (el) el.textContent = JSON.stringify(status);
  }

  // ---- smoothing: analysis.smoothing.ema_smooth ------------------------------------------
  function ema(y, w) {
    var n = y.length, out = y.slice(), i, v, first = null, constant = true;
    if (w === 0) return out;
    for (i = 0; i < n; i++) {
      v = y[i];
      if (v === null || !isFinite(v)) continue;
      if (first === null) first = v; else if (v !== first) { constant = false; break; }
    }
    if (first === null || constant) return out;
    var acc = 0, k = 0;
    for (i = 0; i < n; i++) {
      v = y[i];
      if (v === null || !isFinite(v)) continue;
      k += 1;
      acc = w * acc + (1 - w) * v;
      out[i] = acc / (1 - Math.pow(w, k));
    }
    return out;
  }

  // ---- formatting ------------------------------------------------------------------------
  function fmtStep(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return +(v / 1e6).toFixed(2) + "M";
    if (a >= 1e3) return +(v / 1e3).toFixed(1) + "k";
    return String(+v.toFixed(0));
  }
  function fmtNum(v) {
    if (v === null || v === undefined || !isFinite(v)) return "—";
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e5 || a < 1e-3) return v.toExponential(3).replace(/\.?0+e/, "e");
    if (a >= 100) return String(+v.toFixed(1));
    return String(+v.toPrecision(4));
  }
  function rgba(hex, a) {
    var h = hex.replace("#", "");
    var r = parseInt(h.substr(0, 2), 16), g = parseInt(h.substr(2, 2), 16),
        b = parseInt(h.substr(4, 2), 16);
    return "rgba(" + r + "," + g + "," + b + "," + a + ")";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- state -----------------------------------------------------------------------------
  var spec, A, weight, useMedian = false, charts = [];
  window.radiovaeCharts = charts;   // for a console or a test: each {fig, u (uPlot), metas}

  function normFn(norm) {
    var lo = norm[0], hi = norm[1];
    return function (v) {
      if (v === null || !isFinite(v)) return null;
      if (!(hi > lo)) return 0.5;
      return Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
    };
  }
  function mapArr(arr, f) { return f ? arr.map(f) : arr; }

  function smoothCol(m) {
    if (!m.spec.smooth) return m.y;
    if (useMedian && m.med) return m.med;
    return ema(m.y, weight);
  }

  function dataFor(c) {
    var data = [c.x];
    c.cols.forEach(function (col) {
      data.push(col.kind === "smooth" ? mapArr(col.meta.cache, col.meta.tf) : col.data);
    });
    return data;
  }

  // ---- marks (phase switch, resumes, findings) drawn on the canvas --------------------------
  function drawMarks(u, m, tl) {
    var ctx = u.ctx, b = u.bbox, pr = uPlot.pxRatio;
    ctx.save();
    ctx.beginPath(); ctx.rect(b.left, b.top, b.width, b.height); ctx.clip();
    ctx.font = (11 * pr) + "px sans-serif";
    (m.spans || []).forEach(function (s) {
      var x0 = u.valToPos(s.from, "x", true), x1 = u.valToPos(s.to, "x", true);
      ctx.fillStyle = rgba(s.color, s.alpha);
      ctx.fillRect(x0, b.top, Math.max(x1 - x0, pr), b.height);
    });
    if (tl) drawTimeline(u, tl);
    (m.vlines || []).forEach(function (v) {
      var x = u.valToPos(v.x, "x", true);
      ctx.strokeStyle = v.color; ctx.lineWidth = 1.2 * pr;
      ctx.setLineDash(v.dash.map(function (d) { return d * pr; }));
      ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
      ctx.setLineDash([]);
      if (v.label && !tl) label(ctx, " " + v.label, x + 2 * pr,
        v.pos === "bottom" ? b.top + b.height - 4 * pr : b.top + 13 * pr, v.color, "left");
    });
    (m.hlines || []).forEach(function (h) {
      var y = u.valToPos(h.y, h.axis, true);
      ctx.strokeStyle = h.color; ctx.lineWidth = pr; ctx.setLineDash([5 * pr, 4 * pr]);
      ctx.beginPath(); ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke();
      ctx.setLineDash([]);
      label(ctx, h.label + " ", b.left + b.width - 2 * pr, y + 13 * pr, h.color, "right");
    });
    (m.points || []).forEach(function (p) {
      var x = u.valToPos(p.x, "x", true), s = 5 * pr, y;
      ctx.strokeStyle = p.color; ctx.fillStyle = p.color; ctx.lineWidth = 1.6 * pr;
      if (p.shape === "x" || p.y === null) {
        y = b.top + 8 * pr;
        ctx.beginPath(); ctx.moveTo(x - s, y - s); ctx.lineTo(x + s, y + s);
        ctx.moveTo(x - s, y + s); ctx.lineTo(x + s, y - s); ctx.stroke();
      } else {
        y = u.valToPos(p.y, p.axis, true);
        ctx.beginPath(); ctx.moveTo(x - s, y - 1.6 * s); ctx.lineTo(x + s, y - 1.6 * s);
        ctx.lineTo(x, y); ctx.closePath(); ctx.fill();
      }
    });
    ctx.restore();
  }
  function label(ctx, text, x, y, color, align) {
    var w = ctx.measureText(text).width, pr = uPlot.pxRatio;
    ctx.fillStyle = "rgba(255,255,255,0.75)";
    ctx.fillRect(align === "right" ? x - w : x, y - 11 * pr, w, 14 * pr);
    ctx.fillStyle = color; ctx.textAlign = align; ctx.fillText(text, x, y);
    ctx.textAlign = "left";
  }
  // the rows from the bottom: the phase row (when there is one) takes 0 … 1, a finding's the next
  function rowBase(tl) { return tl.phase ? 1 : 0; }
  function drawTimeline(u, tl) {
    var ctx = u.ctx, b = u.bbox, pr = uPlot.pxRatio, n = tl.rows.length;
    tl.rows.slice().reverse().forEach(function (r, i) {
      var y = u.valToPos(rowBase(tl) + 0.5 + i, "y", true);
      ctx.strokeStyle = r.color; ctx.fillStyle = r.color;
      if (r.range) {
        var x0 = u.valToPos(r.range[0], "x", true), x1 = u.valToPos(r.range[1], "x", true);
        ctx.globalAlpha = 0.6; ctx.fillRect(x0, y - 3 * pr, Math.max(x1 - x0, 2 * pr), 6 * pr);
      }
      if (r.wide) {
        ctx.globalAlpha = 0.25; ctx.fillRect(b.left, y - 2 * pr, b.width, 4 * pr);
      }
      ctx.globalAlpha = 1; ctx.lineWidth = 2 * pr;
      r.ticks.forEach(function (t) {
        var x = u.valToPos(t, "x", true);
        ctx.beginPath(); ctx.moveTo(x, y - 7 * pr); ctx.lineTo(x, y + 7 * pr); ctx.stroke();
      });
    });
    return n;
  }

  // ---- one panel -------------------------------------------------------------------------
  function scaleOpts(sc, timeline, rows) {
    if (timeline) return {auto: false, range: [-0.15, rows + rowBase(timeline) + 0.05]};
    if (sc.kind === "log") return {distr: 3, log: 10};
    if (sc.kind === "symlog") return {distr: 4, asinh: sc.thresh || 1};
    return {};
  }

  function buildPanel(fig, p, box, syncKey) {
    var x = A[p.x];
    var head = el("div", "rv-title", p.title);
    box.appendChild(head);
    if (p.note || !x.length) { box.appendChild(el("p", "rv-note", p.note || "no records")); return null; }
    status.expected += 1;
    var c = {fig: fig, x: x, cols: [], metas: [], spec: p};
    var useries = [{}], bands = [];
    p.series.forEach(function (s) {
      var m = {spec: s, y: A[s.y], lo: s.lo !== undefined ? A[s.lo] : null,
               hi: s.hi !== undefined ? A[s.hi] : null,
               med: s.median !== undefined ? A[s.median] : null,
               tf: s.norm ? normFn(s.norm) : null, idx: []};
      m.cache = smoothCol(m);
      var few = x.length < 60;
      function add(col, opts) { c.cols.push(col); useries.push(opts); m.idx.push(useries.length - 1); }
      var common = {scale: s.axis, spanGaps: !!s.spanGaps};
      if (s.raw) {
        var faint = s.norm ? 0.4 : 1;   // several overlaid envelopes: fainter
        if (m.lo && m.hi && s.lo !== s.hi) {
          add({kind: "raw", data: mapArr(m.hi, m.tf), meta: m},
              Object.assign({stroke: rgba(s.color, 0.35 * faint), width: 0.6, points: {show: false}}, common));
          add({kind: "raw", data: mapArr(m.lo, m.tf), meta: m},
              Object.assign({stroke: rgba(s.color, 0.35 * faint), width: 0.6, points: {show: false}}, common));
          bands.push({series: [m.idx[0], m.idx[1]], fill: rgba(s.color, 0.12 * faint)});
        } else if (s.smooth) {
          add({kind: "raw", data: mapArr(m.y, m.tf), meta: m},
              Object.assign({stroke: rgba(s.color, few ? 0.6 : 0.35), width: 0.6,
                             points: {show: few, size: 4}}, common));
        }
      }
      var line = {stroke: s.color, width: s.width, points: {show: few && !s.raw && !s.step, size: 4},
                  fill: p.timeline ? rgba(s.color, 0.15) : undefined};
      // a step-like series (disc_factor, an lr printed at 5 decimals): its values held until
      // the next change, as the PNG's steps-post; never smoothed
      if (s.step) line.paths = uPlot.paths.stepped({align: 1});
      add({kind: "smooth", meta: m}, Object.assign(line, common));
      c.metas.push(m);
    });
    var rows = p.timeline ? p.timeline.rows.length : 0;
    var scales = {x: {time: false}}, axes = [{
      values: function (u, ticks) { return ticks.map(fmtStep); },
      label: p.timeline ? "" : "training step", size: p.timeline ? 30 : 44}];
    Object.keys(p.scales).forEach(function (k) {
      var sc = p.scales[k];
      scales[k] = scaleOpts(sc, p.timeline, rows);
      var ax = {scale: k, side: sc.side === "right" ? 1 : 3, label: sc.label || "",
                stroke: sc.color || "#1c2833", size: 70, grid: {show: k === "y"},
                values: function (u, ticks) { return ticks.map(fmtNum); }};
      if (p.timeline) {
        var labels = (p.timeline.phase ? [p.timeline.phase] : []).concat(
          p.timeline.rows.slice().reverse().map(function (r) { return r.label; }));
        ax.size = 190; ax.label = "";
        ax.splits = function () { return labels.map(function (_l, i) { return i + 0.5; }); };
        ax.values = function () { return labels; };
        ax.grid = {show: false};
      }
      axes.push(ax);
    });
    var legend = el("div", "rv-legend");
    var wrap = el("div", "rv-plot");
    box.appendChild(wrap); box.appendChild(legend);
    var opts = {
      width: Math.max(wrap.clientWidth, 300), height: p.height, series: useries, scales: scales,
      axes: axes, bands: bands, legend: {show: false},
      cursor: {sync: {key: syncKey}, drag: {x: true, y: false}, focus: {prox: -1}},
      hooks: {
        draw: [function (u) { drawMarks(u, p.marks || {}, p.timeline); }],
        setCursor: [function (u) { showValues(c, u.cursor.idx); }],
        setScale: [function (u, key) { if (key === "x") syncZoom(c, u); }]
      }
    };
    c.u = new uPlot(opts, dataFor(c), wrap);
    c.legend = legend;
    buildLegend(c);
    interact(c);
    charts.push(c);
    status.charts += 1;
    return c;
  }

  function buildLegend(c) {
    c.stepEl = el("span", "rv-step", "");
    c.legend.appendChild(c.stepEl);
    c.metas.forEach(function (m) {
      var item = el("span", "rv-item");
      var sw = el("i", "rv-swatch"); sw.style.background = m.spec.color;
      item.appendChild(sw); item.appendChild(el("span", "rv-label", m.spec.label));
      m.valEl = el("span", "rv-val", "");
      item.appendChild(m.valEl);
      item.title = "click to hide / show";
      item.addEventListener("click", function () {
        m.hidden = !m.hidden;
        item.classList.toggle("rv-off", m.hidden);
        m.idx.forEach(function (i) { c.u.setSeries(i, {show: !m.hidden}); });
      });
      c.legend.appendChild(item);
    });
  }

  function showValues(c, i) {
    if (i === null || i === undefined) { c.stepEl.textContent = ""; c.metas.forEach(function (m) { m.valEl.textContent = ""; }); return; }
    c.stepEl.textContent = "step " + c.x[i].toLocaleString("en-US") + ":";
    c.metas.forEach(function (m) {
      var parts = [];
      if (m.spec.smooth) parts.push((useMedian && m.med ? "median " : "smoothed ") + fmtNum(m.cache ? m.cache[i] : null));
      if (m.lo && m.hi && m.lo !== m.hi) {
        parts.push("raw " + fmtNum(m.lo[i]) + " … " + fmtNum(m.hi[i]) + ", mean " + fmtNum(m.y[i]));
      } else parts.push("value " + fmtNum(m.y[i]));
      m.valEl.textContent = parts.join(" · ");
    });
  }

  var syncing = false;
  function syncZoom(c, u) {
    if (syncing) return;
    syncing = true;
    var mn = u.scales.x.min, mx = u.scales.x.max;
    charts.forEach(function (o) {
      if (o !== c && o.fig === c.fig) o.u.setScale("x", {min: mn, max: mx});
    });
    syncing = false;
  }

  function interact(c) {
    var u = c.u, over = u.over, x0 = c.x[0], x1 = c.x[c.x.length - 1];
    function clampSet(mn, mx) {
      var w = mx - mn, full = x1 - x0;
      if (w >= full || !(w > 0)) { mn = x0; mx = x1; }
      else { if (mn < x0) { mn = x0; mx = x0 + w; } if (mx > x1) { mx = x1; mn = x1 - w; } }
      u.setScale("x", {min: mn, max: mx});
    }
    over.addEventListener("wheel", function (e) {
      if (!(e.altKey || e.ctrlKey)) return;
      e.preventDefault();
      var mn = u.scales.x.min, mx = u.scales.x.max, at = u.posToVal(e.offsetX, "x");
      var f = e.deltaY < 0 ? 0.75 : 1 / 0.75;
      clampSet(at - (at - mn) * f, at + (mx - at) * f);
    }, {passive: false});
    over.addEventListener("mousedown", function (e) {
      if (!(e.shiftKey || e.button === 1)) return;
      e.preventDefault(); e.stopImmediatePropagation();   // not uPlot's drag-to-zoom
      var startX = e.clientX, mn = u.scales.x.min, mx = u.scales.x.max;
      var perPx = (mx - mn) / over.clientWidth;
      function move(ev) { var d = (ev.clientX - startX) * perPx; clampSet(mn - d, mx - d); }
      function up() { document.removeEventListener("mousemove", move); document.removeEventListener("mouseup", up); }
      document.addEventListener("mousemove", move);
      document.addEventListener("mouseup", up);
    }, true);
  }

  // ---- smoothing control -----------------------------------------------------------------
  function setWeight(w, initial) {
    weight = w;
    if (!initial) charts.forEach(function (c) {   // keep each chart's zoom
      c.metas.forEach(function (m) { m.cache = smoothCol(m); });
      c.u.setData(dataFor(c), false);
    });
    var text = useMedian ? "Smoothing: rolling median over 1/50 of the run, " + spec.over.replace("means", "medians") + "."
      : "Smoothing: TensorBoard's debiased exponential moving average, weight " + (+w.toFixed(3)) + ", " + spec.over + ".";
    var changed = useMedian !== spec.median || (!useMedian && Math.abs(w - spec.weight) > 1e-9);
    if (changed) text += " (Interactive chart; the printed figure: " + (spec.median ? "rolling median" : "weight " + spec.weight) + ".)";
    document.querySelectorAll("figure.rv-live .smoothing-note").forEach(function (n) { n.textContent = text; });
    var out = document.getElementById("rv-weight");
    if (out) out.textContent = useMedian ? "rolling median" : w.toFixed(3);
    recordStatus();
  }

  function recordStatus() {
    status.weight = useMedian ? "median" : weight;
    status.smoothed = {};
    charts.forEach(function (c, ci) {
      c.metas.forEach(function (m) {
        // the first three and the last value of the drawn smoothed line (null: no point)
        var s = m.cache || [];
        status.smoothed[c.fig + "/" + ci + "/" + m.spec.label] =
          s.slice(0, 3).concat(s.slice(-1)).map(function (v) { return v === null || !isFinite(v) ? null : v; });
      });
    });
    writeStatus();
  }

  function toolbar() {
    var bar = document.getElementById("rv-toolbar");
    if (!bar) return;
    bar.hidden = false;
    var slider = document.getElementById("rv-slider");
    slider.value = String(weight);
    slider.addEventListener("input", function () {
      if (median) { median.checked = false; useMedian = false; }
      setWeight(parseFloat(slider.value));
    });
    var median = document.getElementById("rv-median");
    if (median) {
      if (!spec.median) median.parentNode.hidden = true;
      median.checked = useMedian;
      median.addEventListener("change", function () { useMedian = median.checked; setWeight(weight); });
    }
  }

  function paintedPixels(c) {
    var cv = c.u.ctx.canvas, b = c.u.bbox;
    var img = c.u.ctx.getImageData(b.left, b.top, Math.max(1, b.width), Math.max(1, b.height)).data;
    var n = 0;
    for (var i = 3; i < img.length; i += 4) if (img[i] > 128) n++;
    return n + 0 * cv.width;
  }

  function main() {
    var src = document.getElementById("radiovae-charts");
    if (!src) return;
    spec = JSON.parse(src.textContent);
    A = spec.arrays;
    weight = spec.weight;
    useMedian = !!spec.median;
    var m = /smoothing=([0-9.]+|median)/.exec(location.hash);
    if (m) { if (m[1] === "median") useMedian = true; else { weight = Math.min(0.999, Math.max(0, parseFloat(m[1]))); useMedian = false; } }
    document.querySelectorAll("figure[data-chart]").forEach(function (f) {
      var key = f.getAttribute("data-chart"), panels = spec.figures[key];
      if (!panels) return;
      var grid = f.querySelector(".rv-chart");
      panels.forEach(function (p) {
        var box = el("div", "rv-panel" + (p.half ? " rv-half" : ""));
        grid.appendChild(box);
        buildPanel(key, p, box, key);
      });
      f.classList.add("rv-live");
    });
    toolbar();
    setWeight(weight, true);
    window.addEventListener("resize", function () {
      charts.forEach(function (c) {
        var w = c.u.root.parentNode.clientWidth;
        if (w > 0) c.u.setSize({width: w, height: c.spec.height});
      });
    });
    setTimeout(function () { status.painted = charts.map(paintedPixels); writeStatus(); }, 50);
  }

  try { main(); } catch (e) { status.errors.push(String(e && e.stack || e)); writeStatus(); }
})();
