"""The change report of an update: a plain dict (``model.changes_``, saved in ``hercules.json``)
and its text (``hercules show RESULT --changes``), so a user sees what an update did to the
hierarchy without diffing two trees: new clusters, growth, splits, new titles, outliers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hercules.data.dataset import Dataset
from hercules.hierarchy.tree import Hierarchy, cluster_id

if TYPE_CHECKING:
    from hercules.pipeline.update import LevelOne
    from hercules.pipeline.update_levels import Growth

_SNIPPET = 100


def _plain(x: Any) -> Any:
    """A JSON-able scalar (ids may be numpy values)."""
    return x.item() if isinstance(x, np.generic) else x


def _parent_id(h: Hierarchy, t: int, j: int) -> str | None:
    p = h.parent(t, j)
    return None if p is None else cluster_id(t + 1, p)


def _new_clusters(h: Hierarchy, g: Growth, splits: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Every new cluster, level by level; the smaller halves of split clusters say where they came from."""
    halves = {b: cluster_id(1, a) for a, b in splits}
    return [
        {
            "id": cluster_id(t, j),
            "level": t,
            "title": h.level(t).labels[j].title,
            "size": int(h.level(t).sizes[j]),
            "parent": _parent_id(h, t, j),
            "split_from": halves.get(j) if t == 1 else None,
        }
        for t in sorted(g.new)
        for j in g.new[t].tolist()
    ]


def _size_changes(old: Hierarchy, new: Hierarchy, top: int) -> tuple[list[dict], list[dict]]:
    """(existing clusters that grew the most, relative to their size; those that lost the most items:
    an update only adds items, so only a split makes a cluster smaller)."""
    rows = []
    for t in range(1, old.depth + 1):
        before, after = old.level(t).sizes, new.level(t).sizes[: old.level(t).k]
        rows += [(t, j, int(b), int(a)) for j, (b, a) in enumerate(zip(before.tolist(), after.tolist()))]
    n0, n1 = max(old.n_items, 1), max(new.n_items, 1)

    def row(t: int, j: int, b: int, a: int) -> dict[str, Any]:
        return {
            "id": cluster_id(t, j),
            "title": new.level(t).labels[j].title,
            "before": b,
            "after": a,
            "growth": round((a - b) / max(b, 1), 4),
            "share_before": round(b / n0, 5),
            "share_after": round(a / n1, 5),
        }

    grew = sorted((r for r in rows if r[3] > r[2]), key=lambda r: (-(r[3] - r[2]) / max(r[2], 1), r[0], r[1]))
    shrank = sorted((r for r in rows if r[3] < r[2]), key=lambda r: (r[3] / max(r[2], 1), r[0], r[1]))
    return [row(*r) for r in grew[:top]], [row(*r) for r in shrank[:top]]


def _outliers(h: Hierarchy, ds: Dataset, n_old: int, k_old: int, first: LevelOne, top: int) -> dict[str, Any]:
    """How many new items fit no original cluster, where they went, and examples of those left over."""
    lab = first.labels[n_old:]
    out = first.outliers
    in_new = out & (lab >= k_old)
    left = np.flatnonzero(out & (lab < k_old))
    texts = ds.item_texts()
    titles = h.level(1).labels
    examples = [
        {
            "id": _plain(ds.ids[n_old + i]),
            "item": texts[n_old + i][:_SNIPPET],
            "cluster": cluster_id(1, int(lab[i])),
            "title": titles[int(lab[i])].title,
        }
        for i in left[:top].tolist()
    ]
    return {
        "count": int(out.sum()),
        "in_new_clusters": int(in_new.sum()),
        "left_in_nearest": len(left),
        "rule": first.limit.kind,
        "examples": examples,
    }


def _relabelled(old: Hierarchy, g: Growth) -> list[str]:
    """Existing clusters whose label was written again (new clusters are listed apart)."""
    return [cluster_id(t, j) for t in sorted(g.relabelled) for j in g.relabelled[t][g.relabelled[t] < old.level(t).k].tolist()]


def _retitled(old: Hierarchy, new: Hierarchy, relabelled: list[str]) -> list[dict[str, Any]]:
    """Those of ``relabelled`` whose title changed, old and new."""
    rows = []
    for cid in relabelled:
        t, j = (int(x) for x in cid[1:].split("-"))
        before, after = old.level(t).labels[j].title, new.level(t).labels[j].title
        if before != after:
            rows.append({"id": cid, "old_title": before, "title": after})
    return rows


def build_report(
    old: Hierarchy, new: Hierarchy, ds: Dataset, first: LevelOne, g: Growth, notes: list[str], number: int
) -> dict[str, Any]:
    """The change report of update number ``number`` (plain, JSON-able values)."""
    top = g.opts.report_size
    grew, shrank = _size_changes(old, new, top)
    llm = {key: int(sum(s.get(key, 0) for s in g.stats)) for key in ("calls", "cache_hits", "clusters")}
    relabelled = _relabelled(old, g)
    return {
        "update": number,
        "items": {"before": old.n_items, "added": new.n_items - old.n_items, "after": new.n_items},
        "clusters": {f"L{t}": {"before": old.level(t).k, "after": new.level(t).k} for t in range(1, new.depth + 1)},
        "options": {
            k: getattr(g.opts, k) for k in ("outlier_quantile", "outlier_scale", "min_cluster_size", "relabel_threshold")
        },
        "new_clusters": _new_clusters(new, g, first.splits),
        "grew": grew,
        "shrank": shrank,
        "splits": [
            {
                "id": cluster_id(1, a),
                "new_id": cluster_id(1, b),
                "sizes": [int(new.level(1).sizes[a]), int(new.level(1).sizes[b])],
            }
            for a, b in first.splits
        ],
        "relabelled": relabelled,
        "retitled": _retitled(old, new, relabelled),
        "outliers": _outliers(new, ds, old.n_items, old.level(1).k, first, top),
        "llm": llm if g.stats else None,
        "notes": notes,
    }


def _new_line(r: dict[str, Any]) -> str:
    split = f"  (split from {r['split_from']})" if r.get("split_from") else ""
    return f"{r['id']:<8} {r['title']}  ({r['size']:,})  under {r['parent'] or '-'}{split}"


def _size_line(r: dict[str, Any]) -> str:
    return f"{r['id']:<8} {r['title']}  {r['before']:,} -> {r['after']:,} ({r['growth']:+.0%})"


def _title_line(r: dict[str, Any]) -> str:
    return f"{r['id']:<8} {r['old_title']!r} -> {r['title']!r}"


def _outlier_line(r: dict[str, Any]) -> str:
    return f"{r['id']}: {r['item']!r} -> {r['cluster']} {r['title']}"


def changes_text(changes: dict[str, Any] | None) -> str:
    """The change report as text (what ``hercules show RESULT --changes`` prints)."""
    if not changes:
        return "No update recorded: this result is as it was fitted.\n"
    c, items, o = changes, changes["items"], changes["outliers"]
    seconds = f" in {c['seconds']:.1f} s" if "seconds" in c else ""
    lines = [f"Update {c['update']}: {items['before']:,} items + {items['added']:,} new = {items['after']:,}{seconds}"]
    lines.append("Clusters: " + ", ".join(f"{t} {v['before']} -> {v['after']}" for t, v in c["clusters"].items()))
    lines.append(
        f"Re-labelled: {len(c['new_clusters'])} new and {len(c['relabelled'])} changed clusters; all others keep their titles"
    )
    rule = "per-cluster" if o["rule"] == "per-cluster" else "global (no saved item vectors)"
    lines.append(
        f"Outliers: {o['count']:,} new items fit no existing cluster ({rule} threshold); "
        f"{o['in_new_clusters']:,} formed new clusters, {o['left_in_nearest']:,} stay in their nearest cluster"
    )
    sections = [
        ("New clusters", c["new_clusters"], _new_line),
        ("Grew the most", c["grew"], _size_line),
        ("Shrank the most", c["shrank"], _size_line),
        ("Split", c["splits"], lambda r: f"{r['id']} -> {r['id']} + {r['new_id']}  sizes {r['sizes'][0]:,} + {r['sizes'][1]:,}"),
        ("New titles", c["retitled"], _title_line),
        ("Outliers left in their nearest cluster (examples)", o["examples"], _outlier_line),
    ]
    for title, rows, fmt in sections:
        if rows:
            lines.append(f"{title}:")
            lines += [f"  {fmt(r)}" for r in rows]
    if c.get("llm"):
        lines.append(f"LLM: {c['llm']['calls']} calls ({c['llm']['cache_hits']} cached) for {c['llm']['clusters']} clusters")
    lines += [f"Note: {n}" for n in c.get("notes", [])]
    return "\n".join(lines) + "\n"
