// ---- ui.js: the tree outline, search, the cluster pane and the hover tooltip. Item texts are untrusted:
// they only ever go into textContent, never into HTML.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
const cidOf = (t, j) => "L" + t + "-" + j;
const fmt = (x) => x.toLocaleString();

function nodeButton(S, t, j, onPick) {
  const lv = S.levels[t - 1], b = el("button");
  b.dataset.cid = cidOf(t, j);
  b.append(el("span", "", lv.title[j]), el("span", "meta", fmt(lv.size[j])));
  b.title = cidOf(t, j) + ": " + lv.title[j];
  b.addEventListener("click", (ev) => { ev.preventDefault(); onPick(t, j, true); });
  return b;
}

// Children are built when a node is first opened, so a 1,000-cluster level costs nothing until needed.
function treeNode(S, t, j, onPick) {
  const btn = nodeButton(S, t, j, onPick);
  if (t === S.L) { // top level: its colour on the map
    const sw = el("span", "swatch");
    sw.style.background = S.meta.colors[j % S.meta.colors.length];
    btn.prepend(sw);
  }
  if (t === 1) {
    const d = el("div", "leaf");
    d.append(btn);
    return d;
  }
  const det = el("details"), sum = el("summary");
  sum.append(btn);
  det.append(sum);
  det.addEventListener("toggle", () => {
    if (det.open && !det._built) {
      det._built = true;
      for (const c of S.levels[t - 1].children[j]) det.append(treeNode(S, t - 1, c, onPick));
    }
  });
  det._t = t; det._j = j;
  return det;
}

function buildTree(S, onPick) {
  const nav = $("tree");
  for (let j = 0; j < S.levels[S.L - 1].k; j++) nav.append(treeNode(S, S.L, j, onPick));
}

function revealInTree(S, t, j) {
  const chain = [[t, j]];
  for (let s = t; s < S.L; s++) chain.unshift([s + 1, S.levels[s - 1].parent[chain[0][1]]]);
  let scope = $("tree");
  for (const [ct, cj] of chain) {
    const node = [...scope.children].find((c) => c.querySelector(":scope > summary > button, :scope > button")?.dataset.cid === cidOf(ct, cj));
    if (!node) return;
    if (node.tagName === "DETAILS" && ct !== t) node.open = true;
    scope = node;
  }
  document.querySelectorAll("#tree button.active").forEach((b) => b.classList.remove("active"));
  const b = scope.querySelector("button");
  b.classList.add("active");
  b.scrollIntoView({ block: "nearest" });
}

function searchClusters(S, q) {
  const terms = q.toLowerCase().split(/\s+/).filter(Boolean), out = [];
  if (!terms.length) return out;
  for (const lv of S.levels) {
    for (let j = 0; j < lv.k; j++) {
      if (terms.every((w) => lv.hay[j].includes(w))) {
        const inTitle = terms.every((w) => lv.title[j].toLowerCase().includes(w));
        out.push([inTitle ? 1 : 0, lv.level, lv.size[j], j]);
      }
    }
  }
  return out.sort((a, b) => b[0] - a[0] || b[1] - a[1] || b[2] - a[2]);
}

function setupSearch(S, onPick, onMatches) {
  const box = $("search"), list = $("results"), info = $("results-info");
  let timer = 0, first = null;
  const run = () => {
    const hits = searchClusters(S, box.value);
    list.replaceChildren();
    first = hits[0] || null;
    info.textContent = box.value.trim() ? `${hits.length} matching cluster${hits.length === 1 ? "" : "s"}` : "";
    for (const [, t, , j] of hits.slice(0, 60)) {
      const li = el("li"), b = nodeButton(S, t, j, onPick);
      b.querySelector(".meta").textContent = `${cidOf(t, j)} \u00b7 ${fmt(S.levels[t - 1].size[j])}`;
      li.append(b);
      list.append(li);
    }
    onMatches(new Set(hits.map(([, t, , j]) => cidOf(t, j))));
  };
  box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 120); });
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { clearTimeout(timer); run(); if (first) onPick(first[1], first[3], true); }
    if (ev.key === "Escape") { box.value = ""; run(); }
  });
}

function sampleItem(S, i, text) {
  const li = el("li"), th = S.meta.thumbs[String(i)];
  if (th) { const img = el("img"); img.src = th; img.alt = ""; li.append(img); }
  li.append(document.createTextNode(text));
  return li;
}

function showPane(S, t, j, onPick) {
  const lv = S.levels[t - 1], pane = $("pane");
  $("pane-id").textContent = `${cidOf(t, j)} \u00b7 level ${t} of ${S.L}`;
  $("pane-swatch").style.background = S.meta.colors[topOf(S, t, j) % S.meta.colors.length];
  $("pane-title").textContent = lv.title[j];
  $("pane-size").textContent = `${fmt(lv.size[j])} items (${((100 * lv.size[j]) / S.meta.n_items).toFixed(1)}%)`;
  $("pane-desc").textContent = lv.desc[j];
  $("pane-kw").replaceChildren(...lv.kw[j].map((w) => el("span", "", w)));
  const path = $("pane-path"), anc = [];
  for (let s = t, c = j; s < S.L; s++) { c = S.levels[s - 1].parent[c]; anc.unshift([s + 1, c]); }
  path.replaceChildren();
  for (const [at, aj] of anc) {
    const a = el("a", "", S.levels[at - 1].title[aj]);
    a.addEventListener("click", () => onPick(at, aj, true));
    path.append(a, document.createTextNode(" \u203a "));
  }
  path.append(document.createTextNode(lv.title[j]));
  const kids = t > 1 ? lv.children[j] : [];
  $("pane-children-h").hidden = !kids.length;
  $("pane-children").replaceChildren(...kids.map((c) => {
    const li = el("li"), b = el("button", "link", `${S.levels[t - 2].title[c]} (${fmt(S.levels[t - 2].size[c])})`);
    b.addEventListener("click", () => onPick(t - 1, c, true));
    li.append(b);
    return li;
  }));
  $("pane-samples").replaceChildren(...lv.samples[j].map(([i, text]) => sampleItem(S, i, text)));
  pane.hidden = false;
}

function showTooltip(S, i, x, y) {
  const tip = $("tooltip"), t = S.activeLevel || S.L, j = S.lab[t][i], lv = S.levels[t - 1];
  tip.replaceChildren();
  const th = S.item ? S.meta.thumbs[String(S.item[i])] : null;
  if (th) { const img = el("img"); img.src = th; img.alt = ""; tip.append(img); }
  tip.append(el("div", "tt-text", S.meta.texts[i]), el("div", "tt-cluster", `${cidOf(t, j)}: ${lv.title[j]}`));
  tip.hidden = false;
  const w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.min(x + 14, S.W - w - 4) + "px";
  tip.style.top = (y + 14 + h > S.H ? y - h - 10 : y + 14) + "px";
}
