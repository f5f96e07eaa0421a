// ---- labels.js: cluster titles over the map. The level follows the zoom: coarse titles when zoomed out, finer
// ones as you zoom in; larger clusters win where titles would overlap; the level above shows faintly behind.
const LABEL_DENSITY = 0.9; // lower: finer levels appear sooner

function toScreen(S, u, v) {
  return [(u - S.view.cx) * S.view.scale + S.W / 2, S.H / 2 - (v - S.view.cy) * S.view.scale];
}

// The finest level whose "natural" zoom (clusters per screen ~ constant) has been reached.
function autoLevel(S) {
  const zoom = S.view.scale / S.scale0, kTop = S.levels[S.L - 1].k;
  let t = S.L;
  for (let s = S.L - 1; s >= 1; s--) {
    if (Math.sqrt(S.levels[s - 1].k / kTop) * LABEL_DENSITY <= zoom) t = s;
  }
  return t;
}

function createLabels(S, layer, onPick) {
  const els = new Map(); // "bg|t|j" -> element with cached size
  let shown = new Set();
  S.labelLevel = "auto";
  S.matches = new Set();

  function element(t, j, bg) {
    const key = (bg ? "bg|" : "fg|") + t + "|" + j;
    let el = els.get(key);
    if (!el) {
      el = document.createElement("div");
      el.className = "label" + (bg ? " bg" : "");
      el.textContent = S.levels[t - 1].title[j];
      el.dataset.cid = "L" + t + "-" + j;
      if (bg) {
        el.style.color = S.meta.colors[topOf(S, t, j) % S.meta.colors.length];
      } else {
        const lv = S.levels[t - 1];
        el.style.fontSize = (11 + 5 * Math.sqrt(lv.size[j] / lv.maxSize)).toFixed(1) + "px";
        el.title = lv.title[j] + " (" + lv.size[j].toLocaleString() + " items)";
        el.addEventListener("click", (ev) => { ev.stopPropagation(); onPick(t, j); });
      }
      layer.appendChild(el);
      el.style.visibility = "hidden";
      el._w = el.offsetWidth;
      el._h = el.offsetHeight;
      els.set(key, el);
    }
    return el;
  }

  // Greedy placement, biggest first; returns the keys placed.
  function placeLevel(t, bg, placed, next) {
    const lv = S.levels[t - 1], m = 40;
    const cand = [];
    for (let j = 0; j < lv.k; j++) {
      const [x, y] = toScreen(S, lv.anchor[2 * j], lv.anchor[2 * j + 1]);
      if (x > -m && y > -m && x < S.W + m && y < S.H + m) cand.push([j, x, y]);
    }
    const isSel = (j) => S.sel && S.sel.t === t && S.sel.j === j;
    cand.sort((a, b) => (isSel(b[0]) - isSel(a[0])) || (lv.size[b[0]] - lv.size[a[0]]));
    for (const [j, ax, ay] of cand) {
      const el = element(t, j, bg), w = el._w + 4, h = el._h + 2;
      // keep titles inside the map (a title half off the edge cannot be read or clicked)
      const x = bg ? ax : Math.min(Math.max(ax, w / 2), S.W - w / 2), y = bg ? ay : Math.min(Math.max(ay, h / 2), S.H - h / 2);
      const box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2];
      if (!isSel(j) && placed.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
      placed.push(box);
      el.style.transform = `translate(${(x - el._w / 2).toFixed(1)}px, ${(y - el._h / 2).toFixed(1)}px)`;
      el.style.visibility = "visible";
      if (!bg) {
        el.classList.toggle("sel", isSel(j));
        el.classList.toggle("match", S.matches.has("L" + t + "-" + j));
      }
      next.add(el);
    }
  }

  function update() {
    const t = S.labelLevel === "auto" ? autoLevel(S) : S.labelLevel;
    S.activeLevel = t;
    const next = new Set();
    if (t < S.L) placeLevel(t + 1, true, [], next);
    placeLevel(t, false, [], next);
    for (const el of shown) if (!next.has(el)) el.style.visibility = "hidden";
    shown = next;
    const lv = S.levels[t - 1];
    $("levelbadge").textContent = `titles: level ${t} of ${S.L} (${lv.k.toLocaleString()} clusters) \u00b7 zoom ${(S.view.scale / S.scale0).toFixed(1)}x`;
  }
  return { update };
}

function topOf(S, t, j) {
  for (let s = t; s < S.L; s++) j = S.levels[s - 1].parent[j];
  return j;
}
