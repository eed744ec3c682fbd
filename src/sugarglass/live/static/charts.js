// Live charts of the society's metrics: /api/metrics every two seconds, one small line chart a
// metric, drawn on a 2-D canvas (no library, nothing fetched from elsewhere).
"use strict";

(() => {
  const charts = document.getElementById("charts");
  const figures = new Map();

  function figure(name) {
    if (!figures.has(name)) {
      const fig = document.createElement("figure");
      const caption = document.createElement("figcaption");
      const label = document.createElement("span");
      const value = document.createElement("span");
      const canvas = document.createElement("canvas");
      label.textContent = name;
      value.className = "value";
      caption.append(label, value);
      fig.append(caption, canvas);
      fig.dataset.metric = name;
      charts.append(fig);
      figures.set(name, { canvas, value });
    }
    return figures.get(name);
  }

  function format(x) {
    if (x === null) return "—";
    const a = Math.abs(x);
    return a !== 0 && (a < 0.01 || a >= 1e5) ? x.toExponential(2) : x.toFixed(a < 10 ? 3 : 1);
  }

  function plot({ canvas, value }, values) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    const finite = values.filter((v) => v !== null);
    value.textContent = format(values.length ? values[values.length - 1] : null);
    if (!finite.length) return;
    let lo = Math.min(...finite), hi = Math.max(...finite);
    if (hi === lo) { hi += 1; lo -= 1; }
    const pad = 14 * dpr, x = (i) => (values.length < 2 ? w / 2 : (i / (values.length - 1)) * (w - 2)) + 1;
    const y = (v) => pad + (1 - (v - lo) / (hi - lo)) * (h - 2 * pad);
    g.strokeStyle = "#26251f";
    g.lineWidth = dpr;
    for (const v of [lo, hi]) { g.beginPath(); g.moveTo(0, y(v)); g.lineTo(w, y(v)); g.stroke(); }
    g.fillStyle = "#8c8878";
    g.font = `${11 * dpr}px system-ui, sans-serif`;
    g.fillText(format(hi), 2, y(hi) - 3 * dpr);
    g.fillText(format(lo), 2, y(lo) + 12 * dpr);
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
    const names = Object.keys(history).sort();
    document.getElementById("empty").hidden = names.length > 0;
    for (const name of names) plot(figure(name), history[name]);
    document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  }

  const loop = () => update().catch(() => {}).finally(() => setTimeout(loop, 2000));
  loop();
})();
