// Live charts of the society's metrics: /api/metrics every two seconds, one small line chart a
// metric, drawn on a 2-D canvas (no library, nothing fetched from elsewhere). Names and units
// come from the page (body data-labels, made by the server from METRIC_LABELS); the y axis is
// rounded to a 1-2-5 step around the data, so a flat series gets a range around its value
// (0..1 when it is all zero) instead of a meaningless -1..1.
"use strict";

(() => {
  const charts = document.getElementById("charts");
  const labels = JSON.parse(document.body.dataset.labels || "{}");
  const figures = new Map();

  const words = (name) => name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

  function figure(name) {
    if (!figures.has(name)) {
      const spec = labels[name] || { label: words(name), unit: "", include: null };
      const fig = document.createElement("figure");
      const caption = document.createElement("figcaption");
      const title = document.createElement("span");
      const label = document.createElement("strong");
      const unit = document.createElement("span");
      const value = document.createElement("span");
      const canvas = document.createElement("canvas");
      label.textContent = spec.label;
      unit.className = "unit";
      unit.textContent = spec.unit;
      title.append(label, unit);
      value.className = "value";
      caption.append(title, value);
      fig.append(caption, canvas);
      fig.dataset.metric = name;
      charts.append(fig);
      figures.set(name, { fig, canvas, value, spec });
    }
    return figures.get(name);
  }

  function decimals(step) { return Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))); }

  function format(x, digits) {
    if (x === null) return "—";
    const a = Math.abs(x);
    if (digits === undefined) digits = Number.isInteger(x) || a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    if (a !== 0 && a < 1e-3) return x.toExponential(1);
    return x.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function niceStep(span) {
    const raw = span / 4, magnitude = 10 ** Math.floor(Math.log10(raw)), f = raw / magnitude;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
  }

  // The y axis for these values: the data, the range the metric always covers (counts 0..1, the
  // Gini 0..1), widened around a flat series, then rounded out to whole steps of 1, 2 or 5.
  function axis(finite, include) {
    let lo = Math.min(...finite), hi = Math.max(...finite);
    if (include) { lo = Math.min(lo, include[0]); hi = Math.max(hi, include[1]); }
    const flat = hi - lo <= 1e-9 * Math.max(1, Math.abs(hi));
    if (flat && lo === 0) hi = 1;
    else if (flat) { const half = Math.abs(lo) * 0.05; lo -= half; hi += half; }
    let step = niceStep(hi - lo);
    if (!flat && finite.every(Number.isInteger)) step = Math.max(step, 1); // counts: no quarter agents
    return { lo: Math.floor(lo / step + 1e-9) * step, hi: Math.ceil(hi / step - 1e-9) * step, step };
  }

  function plot({ fig, canvas, value, spec }, values) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    g.font = `${11 * dpr}px system-ui, sans-serif`;
    g.fillStyle = "#8c8878";
    const finite = values.filter((v) => v !== null);
    value.textContent = format(values.length ? values[values.length - 1] : null);
    if (!finite.length) {
      g.fillText("no value yet", 4 * dpr, h / 2);
      delete fig.dataset.lo;
      return;
    }
    const { lo, hi, step } = axis(finite, spec.include);
    Object.assign(fig.dataset, { lo: String(lo), hi: String(hi), step: String(step) });
    const digits = decimals(step);
    const ticks = [];
    for (let k = 0; lo + k * step <= hi + step * 1e-6; k++) ticks.push(lo + k * step);
    const left = Math.max(...ticks.map((t) => g.measureText(format(t, digits)).width)) + 8 * dpr;
    const top = 8 * dpr, bottom = h - 16 * dpr;
    const x = (i) => left + (values.length < 2 ? (w - left) / 2 : (i / (values.length - 1)) * (w - left - 2 * dpr));
    const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    g.lineWidth = dpr;
    g.textBaseline = "middle";
    g.textAlign = "right";
    for (const t of ticks) {
      g.strokeStyle = "#26251f";
      g.beginPath(); g.moveTo(left, y(t)); g.lineTo(w, y(t)); g.stroke();
      g.fillText(format(t, digits), left - 5 * dpr, y(t));
    }
    g.textAlign = "right";
    g.textBaseline = "alphabetic";
    g.fillText(`last ${values.length} tick${values.length === 1 ? "" : "s"}`, w, h - 2 * dpr);
    g.strokeStyle = "#9fbf6a";
    g.lineWidth = 1.5 * dpr;
    g.beginPath();
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      if (pen) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
      pen = true;
    });
    g.stroke();
  }

  async function update() {
    const history = await (await fetch("/api/metrics", { cache: "no-store" })).json();
    const known = Object.keys(labels);
    const order = (name) => (known.includes(name) ? known.indexOf(name) : known.length);
    const names = Object.keys(history).sort((a, b) => order(a) - order(b) || a.localeCompare(b));
    document.getElementById("empty").hidden = names.length > 0;
    for (const name of names) plot(figure(name), history[name]);
    document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  }

  const loop = () => update().catch(() => {}).finally(() => setTimeout(loop, 2000));
  loop();
})();
