// ---- main.js: view state, pan/zoom, hover, selection; wires the pieces together.

// Pan/zoom state and animation. `draw` paints points and titles for the current S.view.
function createView(S, canvas, wrap, draw) {
  let frame = 0, anim = null;
  const redraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; draw(); });
  };
  // The view that shows `box`, centred in the part of the map not covered by `right` pixels (the pane).
  const fitView = (box, pad = 0.92, right = 0) => {
    const [u0, v0, u1, v1] = box;
    const scale = Math.min((S.W - right) / Math.max(u1 - u0, 1e-6), S.H / Math.max(v1 - v0, 1e-6)) * pad;
    return { cx: (u0 + u1) / 2 + right / 2 / scale, cy: (v0 + v1) / 2, scale };
  };
  const resize = () => {
    const dpr = window.devicePixelRatio || 1;
    S.W = wrap.clientWidth; S.H = wrap.clientHeight;
    canvas.width = Math.round(S.W * dpr); canvas.height = Math.round(S.H * dpr);
    const home = fitView(S.meta.view);
    if (!S.view) S.view = home;
    S.scale0 = home.scale;
    redraw();
  };
  const stopAnim = () => { if (anim) cancelAnimationFrame(anim); anim = null; };
  const flyTo = (target, ms = 450) => {
    const from = { ...S.view }, t0 = performance.now();
    stopAnim();
    const step = (now) => {
      const a = Math.min(1, (now - t0) / ms), e = a * a * (3 - 2 * a);
      S.view = {
        cx: from.cx + (target.cx - from.cx) * e,
        cy: from.cy + (target.cy - from.cy) * e,
        scale: Math.exp(Math.log(from.scale) + (Math.log(target.scale) - Math.log(from.scale)) * e),
      };
      draw();
      anim = a < 1 ? requestAnimationFrame(step) : null;
    };
    anim = requestAnimationFrame(step);
  };
  // 200x: coordinates are uint16, so deeper zoom would show the 1/65535 grid
  const clampScale = (s) => Math.max(S.scale0 / 2, Math.min(S.scale0 * 200, s));
  const zoomAt = (f, mx = S.W / 2, my = S.H / 2) => {
    stopAnim();
    const v = S.view, u = v.cx + (mx - S.W / 2) / v.scale, w = v.cy - (my - S.H / 2) / v.scale;
    const scale = clampScale(v.scale * f);
    S.view = { cx: u - (mx - S.W / 2) / scale, cy: w + (my - S.H / 2) / scale, scale };
    redraw();
  };
  const setView = (cx, cy, zoom) => { stopAnim(); S.view = { cx, cy, scale: S.scale0 * zoom }; draw(); };
  return { redraw, fitView, resize, stopAnim, flyTo, clampScale, zoomAt, setView };
}

// Bounding box (2nd-98th percentile) of a cluster's drawn points: where "zoom to" flies.
function clusterBox(S, t, j) {
  const us = [], vs = [], lab = S.lab[t];
  for (let i = 0; i < S.n; i++) if (lab[i] === j) { us.push(S.xy[2 * i]); vs.push(S.xy[2 * i + 1]); }
  if (!us.length) {
    const lv = S.levels[t - 1], u = lv.anchor[2 * j], v = lv.anchor[2 * j + 1];
    return [u - 0.05, v - 0.05, u + 0.05, v + 0.05];
  }
  const q = (a, p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
  us.sort((a, b) => a - b); vs.sort((a, b) => a - b);
  return [q(us, 0.02), q(vs, 0.02), q(us, 0.98), q(vs, 0.98)];
}

// Selecting a cluster: highlight its points, open the pane, show it in the tree, optionally fly to it.
function createSelection(S, renderer, view) {
  const mask = new Uint8Array(S.n);
  function select(t, j, zoom) {
    S.sel = { t, j };
    const lab = S.lab[t];
    for (let i = 0; i < S.n; i++) mask[i] = lab[i] === j ? 255 : 0;
    renderer.setMask(mask);
    showPane(S, t, j, select);
    revealInTree(S, t, j);
    if (!zoom) { view.redraw(); return; }
    const box = clusterBox(S, t, j), right = S.W > 900 ? $("pane").offsetWidth + 20 : 0;
    let scale = view.clampScale(Math.min(view.fitView(box, 0.75, right).scale, S.scale0 * 60));
    // zoom at least far enough in for this level's titles to show
    if (S.labelLevel === "auto") scale = Math.max(scale, S.scale0 * Math.sqrt(S.levels[t - 1].k / S.levels[S.L - 1].k) * LABEL_DENSITY * 1.01);
    view.flyTo({ cx: (box[0] + box[2]) / 2 + right / 2 / scale, cy: (box[1] + box[3]) / 2, scale });
  }
  function clear() {
    S.sel = null;
    mask.fill(255);
    renderer.setMask(mask);
    $("pane").hidden = true;
    document.querySelectorAll("#tree button.active").forEach((b) => b.classList.remove("active"));
    view.redraw();
  }
  return { select, clear };
}

// The label-level menu, pane buttons and the stats line.
function wireControls(S, view, sel, rendererKind) {
  const menu = $("lvlsel"), meta = S.meta;
  menu.append(new Option("titles: auto", "auto"), ...S.levels.slice().reverse().map((lv) => new Option(`titles: level ${lv.level} (${lv.k})`, String(lv.level))));
  menu.addEventListener("change", () => { S.labelLevel = menu.value === "auto" ? "auto" : Number(menu.value); view.redraw(); });
  $("pane-close").addEventListener("click", sel.clear);
  $("pane-zoom").addEventListener("click", () => S.sel && sel.select(S.sel.t, S.sel.j, true));
  const shown = meta.n_points < meta.n_items ? `${fmt(meta.n_points)} of ${fmt(meta.n_items)} items shown` : `${fmt(meta.n_items)} items`;
  const levels = S.levels.map((lv) => lv.k).reverse().join(" / ");
  $("stats").textContent = `${shown} \u00b7 ${S.L} level${S.L === 1 ? "" : "s"} (${levels})` + (meta.layout ? ` \u00b7 ${meta.layout} layout` : "") + ` \u00b7 ${rendererKind}`;
}

async function main() {
  const { meta, arr } = await loadData();
  const S = buildState(meta, arr);
  const wrap = $("mapwrap");
  const renderer = createRenderer($("map"), S);
  const canvas = $("map"), grid = buildGrid(S); // after createRenderer: a WebGL failure swaps the canvas
  let sel = null;
  const labels = createLabels(S, $("labels"), (t, j) => sel.select(t, j, false));
  const view = createView(S, canvas, wrap, () => { renderer.draw(); labels.update(); });
  sel = createSelection(S, renderer, view);
  setupInput(S, canvas, grid, { ...view, select: sel.select, clearSelection: sel.clear });
  buildTree(S, sel.select);
  setupSearch(S, sel.select, (m) => { S.matches = m; view.redraw(); });
  wireControls(S, view, sel, renderer.kind);
  new ResizeObserver(view.resize).observe(wrap);
  view.resize();
  renderer.draw(); labels.update();
  window.hercules = {
    state: S,
    renderer: renderer.kind,
    select: (cid, zoom = true) => { const m = /^L(\d+)-(\d+)$/i.exec(cid); if (m) sel.select(Number(m[1]), Number(m[2]), zoom); },
    clear: sel.clear,
    zoom: (f) => view.zoomAt(f),
    setView: view.setView,
    activeLevel: () => S.activeLevel,
    readyMs: performance.now(), // load-to-first-frame time, for benchmarks
  };
  document.body.dataset.ready = "1";
}

function setupInput(S, canvas, grid, act) {
  let drag = null, hoverTimer = 0;
  const pos = (ev) => { const r = canvas.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
  const pick = (x, y) => nearestPoint(S, grid, S.view.cx + (x - S.W / 2) / S.view.scale, S.view.cy - (y - S.H / 2) / S.view.scale, 8 / S.view.scale);
  $("mapwrap").addEventListener("wheel", (ev) => { // on the wrapper: titles over the canvas must not swallow the wheel
    if (ev.target.closest("#pane, #controls")) return;
    ev.preventDefault();
    const [x, y] = pos(ev);
    act.zoomAt(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), x, y);
  }, { passive: false });
  canvas.addEventListener("pointerdown", (ev) => {
    act.stopAnim();
    drag = { x: ev.clientX, y: ev.clientY, moved: 0 };
    canvas.setPointerCapture(ev.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (ev) => {
    const [x, y] = pos(ev);
    if (drag) {
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      drag.moved += Math.abs(dx) + Math.abs(dy);
      drag.x = ev.clientX; drag.y = ev.clientY;
      S.view = { ...S.view, cx: S.view.cx - dx / S.view.scale, cy: S.view.cy + dy / S.view.scale };
      $("tooltip").hidden = true;
      act.redraw();
      return;
    }
    clearTimeout(hoverTimer);
    hoverTimer = setTimeout(() => {
      const i = pick(x, y);
      if (i >= 0) showTooltip(S, i, x, y); else $("tooltip").hidden = true;
    }, 15);
  });
  canvas.addEventListener("pointerleave", () => { clearTimeout(hoverTimer); $("tooltip").hidden = true; });
  canvas.addEventListener("pointerup", (ev) => {
    canvas.classList.remove("dragging");
    const d = drag;
    drag = null;
    if (!d || d.moved > 4) return;
    const [x, y] = pos(ev), i = pick(x, y), t = S.activeLevel || S.L;
    if (i >= 0) act.select(t, S.lab[t][i], false); else if (S.sel) act.clearSelection();
  });
  canvas.addEventListener("dblclick", (ev) => { const [x, y] = pos(ev); act.zoomAt(2, x, y); });
  $("zin").addEventListener("click", () => act.zoomAt(1.6));
  $("zout").addEventListener("click", () => act.zoomAt(1 / 1.6));
  $("zreset").addEventListener("click", () => act.flyTo(act.fitView(S.meta.view)));
  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT") return;
    if (ev.key === "Escape") act.clearSelection();
    if (ev.key === "+" || ev.key === "=") act.zoomAt(1.6);
    if (ev.key === "-") act.zoomAt(1 / 1.6);
  });
}

main().catch((e) => {
  console.error(e);
  const box = $("error");
  box.textContent = "Could not show the map: " + (e && e.message ? e.message : e);
  box.hidden = false;
});
