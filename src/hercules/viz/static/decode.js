// ---- decode.js: unpack the embedded data (base64 -> gzip -> JSON header + typed arrays) and index it.
const $ = (id) => document.getElementById(id);

function base64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function loadData() {
  if (typeof DecompressionStream === "undefined") {
    throw new Error("This browser cannot unpack the map (no DecompressionStream): use a recent Chrome, Edge, Firefox or Safari.");
  }
  const bytes = base64ToBytes($("hercules-data").textContent.trim());
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const buf = await new Response(stream).arrayBuffer();
  const magic = String.fromCharCode(...new Uint8Array(buf, 0, 4));
  if (magic !== "HRC1") throw new Error("unknown data format " + magic);
  const hlen = new DataView(buf).getUint32(4, true);
  const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, hlen)));
  const types = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array };
  const arr = {};
  for (const [name, a] of Object.entries(meta.arrays)) arr[name] = new types[a.dtype](buf, 8 + hlen + a.offset, a.length);
  return { meta, arr };
}

function hexToRgb(h) {
  return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
}

// Everything derived once: float coordinates, per-level labels, colours, children lists, search text.
function buildState(meta, arr) {
  const n = meta.n_points, L = meta.levels.length;
  const xy = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) xy[i] = arr.xy[i] / 65535;
  const lab = [null];
  for (let t = 1; t <= L; t++) lab.push(arr["lab" + t]);
  const rgb = meta.colors.map(hexToRgb);
  const color = new Uint8Array(4 * n), top = lab[L];
  for (let i = 0; i < n; i++) {
    const c = rgb[top[i] % rgb.length];
    color[4 * i] = c[0]; color[4 * i + 1] = c[1]; color[4 * i + 2] = c[2]; color[4 * i + 3] = 255;
  }
  const levels = meta.levels;
  levels.forEach((lv) => {
    lv.children = Array.from({ length: lv.k }, () => []);
    lv.hay = lv.title.map((s, j) => (s + " \u0001 " + lv.desc[j] + " " + lv.kw[j].join(" ")).toLowerCase());
    lv.maxSize = Math.max(...lv.size);
  });
  for (let t = 1; t < L; t++) levels[t - 1].parent.forEach((p, j) => levels[t].children[p].push(j));
  return { meta, n, L, xy, lab, color, rgb, levels, item: arr.item, sel: null, view: null, scale0: 1, W: 1, H: 1 };
}

// Uniform grid over the unit square: the nearest point under the cursor without scanning every point.
function buildGrid(S, G = 256) {
  const cell = new Int32Array(S.n), counts = new Int32Array(G * G + 1);
  for (let i = 0; i < S.n; i++) {
    const gx = Math.min(G - 1, (S.xy[2 * i] * G) | 0), gy = Math.min(G - 1, (S.xy[2 * i + 1] * G) | 0);
    cell[i] = gy * G + gx;
    counts[cell[i] + 1]++;
  }
  for (let c = 0; c < G * G; c++) counts[c + 1] += counts[c];
  const items = new Int32Array(S.n), fill = counts.slice(0, G * G);
  for (let i = 0; i < S.n; i++) items[fill[cell[i]]++] = i;
  return { G, start: counts, items };
}

function nearestPoint(S, grid, u, v, radius) {
  const G = grid.G;
  const x0 = Math.max(0, Math.floor((u - radius) * G)), x1 = Math.min(G - 1, Math.floor((u + radius) * G));
  const y0 = Math.max(0, Math.floor((v - radius) * G)), y1 = Math.min(G - 1, Math.floor((v + radius) * G));
  if (x1 < x0 || y1 < y0 || (x1 - x0 + 1) * (y1 - y0 + 1) > 4096) return -1;
  let best = -1, bd = radius * radius;
  for (let gy = y0; gy <= y1; gy++) {
    for (let gx = x0; gx <= x1; gx++) {
      const c = gy * G + gx;
      for (let s = grid.start[c]; s < grid.start[c + 1]; s++) {
        const i = grid.items[s], dx = S.xy[2 * i] - u, dy = S.xy[2 * i + 1] - v, d = dx * dx + dy * dy;
        if (d <= bd) { bd = d; best = i; }
      }
    }
  }
  return best;
}
