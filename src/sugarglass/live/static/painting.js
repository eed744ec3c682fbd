// The live painting: frames arrive over /ws as small binary messages (docs/live.md); this page
// runs the heated plate itself when only levels come (the same physics as sugarglass.canvas,
// solved explicitly) and colours the temperature with the film's own colour table, in WebGL2.
"use strict";

(() => {
  const MAGIC = 0x464c4753; // "SGLF" read as a little-endian uint32
  const LEVEL_MAX = 3000;
  const MAX_RIPPLES = 8;
  const RIPPLE_SECONDS = 4.5;
  const body = document.body;

  // -- the wire -----------------------------------------------------------------------------

  function decode(buffer) {
    if (buffer.byteLength < 32) return null;
    const v = new DataView(buffer);
    if (v.getUint32(0, true) !== MAGIC || v.getUint8(4) !== 1) return null;
    const flags = v.getUint8(5), rippleCount = v.getUint16(6, true), tick = v.getFloat64(8, true);
    const columns = v.getUint16(16, true), rows = v.getUint16(18, true);
    const fieldRows = v.getUint16(20, true), fieldColumns = v.getUint16(22, true);
    const offset = v.getFloat32(24, true), step = v.getFloat32(28, true);
    const hasField = (flags & 1) === 1;
    const count = columns * rows, cells = hasField ? fieldRows * fieldColumns : 0;
    if (buffer.byteLength !== 32 + 2 * (count + rippleCount + cells)) return null;
    let at = 32;
    const next = () => { const x = v.getUint16(at, true); at += 2; return x; };
    const levels = Float32Array.from({ length: count }, next);
    const ripples = Array.from({ length: rippleCount }, next);
    let field = null;
    if (hasField) {
      const data = new Float32Array(cells);
      for (let i = 0; i < cells; i++) data[i] = offset + next() * step;
      field = { rows: fieldRows, columns: fieldColumns, data };
    }
    return { tick, columns, rows, levels, ripples, field };
  }

  // -- the plate: dT/dt = alpha lap T + q - (T - ambient) / tau, insulated edge ---------------

  function makePlate(cfg) {
    const n = Math.min(cfg.cells_per_pitch, 12); // the browser's plate is at most 12 cells a pitch
    const nx = cfg.columns * n, ny = cfg.rows * n, cell = cfg.pitch_mm / n;
    const alpha = cfg.diffusivity_mm2_s, tau = cfg.cooling_tau_s, ambient = cfg.ambient_c;
    let T = new Float32Array(nx * ny).fill(cfg.start_c ?? ambient);
    let scratch = new Float32Array(nx * ny);
    const q = new Float32Array(nx * ny);
    // one element's round footprint over its pitch, oversampled so the halo has no stair-steps
    const over = 6, radius = cfg.element_mm / 2, tile = new Float32Array(n * n);
    for (let j = 0; j < n * over; j++) for (let i = 0; i < n * over; i++) {
      const y = (j + 0.5) / over * cell - cfg.pitch_mm / 2, x = (i + 0.5) / over * cell - cfg.pitch_mm / 2;
      if (x * x + y * y <= radius * radius) tile[Math.floor(j / over) * n + Math.floor(i / over)] += 1 / (over * over);
    }
    const covered = tile.reduce((a, b) => a + b, 0);
    const perWatt = 1 / (covered * (cell / 1000) ** 2 * cfg.plate_heat_capacity_j_m2k); // C/s per W per covered cell
    const stable = 0.8 / (4 * alpha / (cell * cell) + (tau ? 1 / tau : 0));

    function power(level) {
      let f;
      if (cfg.signed) {
        const mid = cfg.signed_midpoint;
        f = level >= mid ? (level - mid) / (LEVEL_MAX - mid) : (level - mid) / mid;
      } else f = level / LEVEL_MAX;
      return cfg.element_power_w * Math.sign(f) * Math.abs(f) ** cfg.drive_gamma;
    }

    function drive(levels) {
      q.fill(0);
      for (let e = 0; e < levels.length; e++) {
        const P = power(levels[e]) * perWatt;
        if (P === 0) continue;
        const r0 = Math.floor(e / cfg.columns) * n, c0 = (e % cfg.columns) * n;
        for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) q[(r0 + j) * nx + c0 + i] += P * tile[j * n + i];
      }
    }

    function advance(seconds) {
      const steps = Math.ceil(seconds / stable);
      if (steps < 1) return;
      const dt = seconds / steps, k = alpha * dt / (cell * cell), cool = tau ? dt / tau : 0;
      for (let s = 0; s < steps; s++) {
        for (let y = 0; y < ny; y++) {
          const up = (y > 0 ? y - 1 : y) * nx, down = (y < ny - 1 ? y + 1 : y) * nx, row = y * nx;
          for (let x = 0; x < nx; x++) {
            const i = row + x, t = T[i];
            const lap = T[row + (x > 0 ? x - 1 : x)] + T[row + (x < nx - 1 ? x + 1 : x)] + T[up + x] + T[down + x] - 4 * t;
            scratch[i] = t + k * lap + dt * q[i] - cool * (t - ambient);
          }
        }
        [T, scratch] = [scratch, T];
      }
    }

    return { columns: nx, rows: ny, drive, advance, field: () => T };
  }

  // -- WebGL2: Catmull-Rom upsampling of the temperature, then the film's colour table ----------

  const VERTEX = `#version 300 es
    in vec2 corner;
    void main() { gl_Position = vec4(corner, 0.0, 1.0); }`;

  const FRAGMENT = `#version 300 es
    precision highp float;
    uniform highp sampler2D field;   // plate temperature, C, one texel a cell
    uniform sampler2D palette;       // the film's colour for low..high C
    uniform vec4 rect;               // the painting in device px: left, top, width, height
    uniform float canvasHeight;
    uniform vec2 range;              // palette low, high (C)
    uniform vec2 grid;               // element columns, rows
    uniform vec4 ripples[${MAX_RIPPLES}];       // x, y (pitches), age (s), amplitude (C)
    uniform int rippleCount;
    out vec4 colour;

    vec4 weights(float t) {
      float t2 = t * t, t3 = t2 * t;
      return vec4(-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2);
    }

    float temperature(vec2 p) {  // p in cells; cell centres at i + 0.5; edge cells repeat
      ivec2 size = textureSize(field, 0);
      vec2 q = p - 0.5, base = floor(q), f = q - base;
      vec4 wx = weights(f.x), wy = weights(f.y);
      float sum = 0.0;
      for (int j = 0; j < 4; j++) {
        int y = clamp(int(base.y) + j - 1, 0, size.y - 1);
        float row = 0.0;
        for (int i = 0; i < 4; i++) row += wx[i] * texelFetch(field, ivec2(clamp(int(base.x) + i - 1, 0, size.x - 1), y), 0).r;
        sum += wy[j] * row;
      }
      return sum;
    }

    void main() {
      vec2 uv = (vec2(gl_FragCoord.x, canvasHeight - gl_FragCoord.y) - rect.xy) / rect.zw;
      if (any(lessThan(uv, vec2(0.0))) || any(greaterThan(uv, vec2(1.0)))) { colour = vec4(0.0, 0.0, 0.0, 1.0); return; }
      float t = temperature(uv * vec2(textureSize(field, 0)));
      vec2 at = uv * grid;
      for (int k = 0; k < ${MAX_RIPPLES}; k++) {
        if (k >= rippleCount) break;
        vec4 r = ripples[k];
        float ring = exp(-pow((distance(at, r.xy) - 0.12 - 0.55 * r.z) / 0.16, 2.0));
        t += r.w * ring * exp(-r.z / 1.8) * smoothstep(0.0, 0.25, r.z);
      }
      float s = clamp((t - range.x) / (range.y - range.x), 0.0, 1.0);
      colour = vec4(texture(palette, vec2((s * 1023.0 + 0.5) / 1024.0, 0.5)).rgb, 1.0);
    }`;

  function makeRenderer(canvas, cfg) {
    const gl = canvas.getContext("webgl2", { antialias: false, preserveDrawingBuffer: true });
    if (!gl) return null;
    const compile = (type, source) => {
      const shader = gl.createShader(type);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
      return shader;
    };
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program));
    gl.useProgram(program);
    const u = (name) => gl.getUniformLocation(program, name);

    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const corner = gl.getAttribLocation(program, "corner");
    gl.enableVertexAttribArray(corner);
    gl.vertexAttribPointer(corner, 2, gl.FLOAT, false, 0, 0);

    const texture = (unit, filter) => {
      const t = gl.createTexture();
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, t);
      for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, filter], [gl.TEXTURE_MAG_FILTER, filter],
        [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, k, v);
      return t;
    };
    const rgb = cfg.palette.rgb, rgba = new Uint8Array(1024 * 4);
    for (let i = 0; i < 1024; i++) { rgba.set(rgb.slice(3 * i, 3 * i + 3), 4 * i); rgba[4 * i + 3] = 255; }
    texture(1, gl.LINEAR);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 1024, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, rgba);
    const fieldTexture = texture(0, gl.NEAREST);
    gl.uniform1i(u("field"), 0);
    gl.uniform1i(u("palette"), 1);
    gl.uniform2f(u("range"), cfg.palette.low, cfg.palette.high);
    gl.uniform2f(u("grid"), cfg.columns, cfg.rows);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);

    return function draw(field, columns, rows, ripples) {
      const dpr = Math.min(window.devicePixelRatio || 1, 2);
      const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      gl.viewport(0, 0, w, h);
      const scale = Math.min(w / columns, h / rows), pw = columns * scale, ph = rows * scale;
      gl.uniform4f(u("rect"), (w - pw) / 2, (h - ph) / 2, pw, ph);
      gl.uniform1f(u("canvasHeight"), h);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, fieldTexture);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, columns, rows, 0, gl.RED, gl.FLOAT, field);
      const packed = new Float32Array(4 * MAX_RIPPLES);
      ripples.slice(0, MAX_RIPPLES).forEach((r, i) => packed.set(r, 4 * i));
      gl.uniform4fv(u("ripples"), packed);
      gl.uniform1i(u("rippleCount"), Math.min(ripples.length, MAX_RIPPLES));
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    };
  }

  // -- the overlay and kiosk mode -----------------------------------------------------------------

  function setText(id, value) { document.getElementById(id).textContent = value; }

  async function refreshOverlay() {
    const state = await (await fetch("/api/state", { cache: "no-store" })).json();
    setText("o-work", state.work || "—");
    setText("o-tick", String(state.tick));
    setText("o-seed", String(state.seed));
    setText("o-population", String(state.population));
    setText("o-price", state.price === null ? "—" : state.price.toFixed(3));
    setText("o-viewers", String(state.viewers));
    setText("o-paused", state.paused ? "paused" : "running");
    const list = document.getElementById("o-sources");
    list.replaceChildren(...Object.entries(state.sources).map(([name, count]) => {
      const item = document.createElement("li");
      item.textContent = `${name}: ${count}`;
      return item;
    }));
  }

  function setupOverlay() {
    const overlay = document.getElementById("overlay");
    const button = document.getElementById("details"); // for a touch screen, which has no `o` key
    let timer = null;
    const show = (on) => {
      overlay.hidden = !on;
      body.dataset.overlay = on ? "on" : "off";
      button.setAttribute("aria-pressed", String(on));
      clearInterval(timer);
      if (on) { refreshOverlay().catch(() => {}); timer = setInterval(() => refreshOverlay().catch(() => {}), 1000); }
    };
    button.addEventListener("click", () => show(overlay.hidden));
    document.addEventListener("keydown", (event) => {
      if ((event.key === "o" || event.key === "O") && !event.ctrlKey && !event.metaKey && !event.altKey) show(overlay.hidden);
    });
  }

  function setupKiosk(kiosk) {
    const full = () => { if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {}); };
    document.getElementById("fullscreen").addEventListener("click", full);
    if (!kiosk) return;
    body.classList.add("kiosk");
    const first = () => { full(); document.removeEventListener("pointerdown", first); document.removeEventListener("keydown", first); };
    document.addEventListener("pointerdown", first);
    document.addEventListener("keydown", first);
  }

  function notice(text) {
    const p = document.getElementById("notice");
    p.textContent = text;
    p.hidden = !text;
  }

  // -- putting it together --------------------------------------------------------------------------

  async function main() {
    const cfg = await (await fetch("/api/painting")).json();
    const kioskParam = new URLSearchParams(location.search).get("kiosk");
    setupKiosk(kioskParam === "1" || (cfg.kiosk && kioskParam !== "0"));
    setupOverlay();
    const canvas = document.getElementById("painting");
    const draw = makeRenderer(canvas, cfg);
    body.dataset.webgl = draw ? "webgl2" : "none";
    if (!draw) { notice("This page needs WebGL2 to paint."); return; }

    const plate = makePlate(cfg);
    const rate = cfg.seconds_per_tick / cfg.tick_seconds; // plate seconds per wall second
    let owed = 0, warmed = false, dirty = true, last = performance.now();
    let given = null; // { now, from, to, columns, rows, since } when the run sends its own field
    let ripples = []; // [x, y, started (ms)]

    function receive(frame) {
      body.dataset.frames = String(Number(body.dataset.frames) + 1);
      body.dataset.tick = String(frame.tick);
      const now = performance.now();
      for (const e of frame.ripples) {
        if (e < frame.columns * frame.rows) ripples.push([e % frame.columns + 0.5, Math.floor(e / frame.columns) + 0.5, now]);
      }
      if (frame.ripples.length) body.dataset.ripples = String(Number(body.dataset.ripples || 0) + frame.ripples.length);
      if (frame.field) {
        const f = frame.field, same = given && given.columns === f.columns && given.rows === f.rows;
        given = { from: same ? given.now : f.data, to: f.data, now: new Float32Array(f.data), columns: f.columns, rows: f.rows, since: now };
      } else {
        given = null;
        plate.drive(frame.levels);
        // a new viewer sees a settled painting at once, not a cold plate warming up
        if (!warmed) plate.advance(3 * (cfg.cooling_tau_s || 180));
        warmed = true;
        owed = Math.min(owed + cfg.seconds_per_tick, 3 * cfg.seconds_per_tick);
      }
      dirty = true;
    }

    function frame(now) {
      const wall = Math.min((now - last) / 1000, 1);
      last = now;
      if (given) {
        const a = Math.min((now - given.since) / 1000 / cfg.tick_seconds, 1);
        for (let i = 0; i < given.now.length; i++) given.now[i] = given.from[i] + (given.to[i] - given.from[i]) * a;
        dirty = dirty || a < 1;
      } else if (owed > 0) {
        const spend = Math.min(owed, Math.max(wall * rate, owed - 2 * cfg.seconds_per_tick));
        plate.advance(spend);
        owed -= spend;
        dirty = true;
      }
      ripples = ripples.filter((r) => (now - r[2]) / 1000 < RIPPLE_SECONDS);
      if (ripples.length) dirty = true;
      if (dirty && (given || warmed)) {
        const amplitude = 0.5 * cfg.bandwidth_c;
        const live = ripples.map((r) => [r[0], r[1], (now - r[2]) / 1000, amplitude]);
        if (given) draw(given.now, given.columns, given.rows, live);
        else draw(plate.field(), plate.columns, plate.rows, live);
        body.dataset.drawn = String(Number(body.dataset.drawn || 0) + 1);
        dirty = false;
      }
      requestAnimationFrame(frame);
    }
    requestAnimationFrame(frame);
    window.addEventListener("resize", () => { dirty = true; });

    function connect() {
      const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => notice("");
      socket.onmessage = (event) => { const f = decode(event.data); if (f) receive(f); };
      socket.onclose = () => { notice("reconnecting…"); setTimeout(connect, 2000); };
    }
    connect();
  }

  main().catch((error) => { notice(String(error)); body.dataset.webgl = body.dataset.webgl === "pending" ? "error" : body.dataset.webgl; });
})();
