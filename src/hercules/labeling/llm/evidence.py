"""The evidence block each cluster shows the LLM: size, distinctive keywords, numeric statistics
on the original scale, subcluster titles, the items closest to the centre, and the keywords of
the most similar other clusters (so the title says what differs). Computed once per level;
rendered at a chosen level of :class:`Detail`, so an oversized cluster can be shown with less."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hercules.data.lazy import prefetch
from hercules.hierarchy import ClusterLabel, cluster_id
from hercules.labeling.base import LevelContext, representative_items
from hercules.labeling.keywords import KeywordLabeler, snippet
from hercules.labeling.llm.quality import normalise_title

#: The least a shortened block shows: one sample of 40 characters, two subcluster titles.
_MIN_SAMPLES, _MIN_CHARS, _MIN_CHILDREN = 1, 40, 2


@dataclass(frozen=True)
class Detail:
    """How much of a cluster's evidence a block shows."""

    samples: int
    chars: int
    children: int

    def shrunk(self) -> Detail | None:
        """Half as much (samples, snippet length, subclusters), or None at the floor."""
        smaller = replace(
            self,
            samples=max(_MIN_SAMPLES, self.samples // 2),
            chars=max(_MIN_CHARS, self.chars // 2),
            children=max(_MIN_CHILDREN, self.children // 2) if self.children > _MIN_CHILDREN else self.children,
        )
        return None if smaller == self else smaller


class Evidence:
    """Everything the blocks of one level are made of, computed once."""

    def __init__(
        self, ctx: LevelContext, fallback: list[ClusterLabel], samples: int, strategy: str, anchors: list[str] | None = None
    ) -> None:
        self.ctx = ctx
        self.anchors = anchors  # the phrase each title is asked to contain (:mod:`.anchors`), or None
        self.fallback = fallback
        self.texts = ctx.dataset.item_texts()
        self.reps = representative_items(ctx, samples, strategy)
        prefetch(self.texts, self.reps)  # texts held elsewhere (Ray): fetched once per level, by row
        self.stats = KeywordLabeler.numeric_stats(ctx) if ctx.dataset.modality == "numeric" else None
        self.sizes = np.bincount(ctx.item_labels, minlength=ctx.n_clusters)
        self.neighbours = nearest_clusters(ctx)

    def member_texts(self, chars: int) -> list[set[str]]:
        """The normalised texts of the items each cluster's block shows (whole and as cut to ``chars``): a
        candidate title equal to one is a copied example, not a name."""
        out = []
        for reps in self.reps:
            shown = [str(self.texts[i]) for i in reps]
            out.append({normalise_title(t) for s in shown for t in (s, snippet(s, chars))} - {""})
        return out

    def block(self, j: int, detail: Detail) -> str:
        """Cluster ``j``'s block, showing ``detail`` of its samples and subclusters."""
        ctx, fb = self.ctx, self.fallback
        lines = [f"### Cluster {cluster_id(ctx.level, j)}", f"Size: {self.sizes[j]} items"]
        if fb[j].keywords:
            lines.append(f"Distinctive keywords: {', '.join(fb[j].keywords[:8])}")
        if self.stats is not None:
            lines.append("Most distinctive variables (original scale):")
            lines += [f"- {line}" for line in self.stats[j]]
        if ctx.child_labels is not None and ctx.child_parent is not None:
            kids = np.flatnonzero(ctx.child_parent == j)[: detail.children]
            lines.append("Subclusters:")
            lines += [f'- "{ctx.child_labels[c].title}": {snippet(ctx.child_labels[c].description, 90)}' for c in kids]
        lines.append("Items closest to the centre:")
        lines += [f'- "{snippet(self.texts[i], detail.chars)}"' for i in self.reps[j][: detail.samples]]
        if self.neighbours is not None and len(self.neighbours[j]):
            sims = "; ".join(", ".join(fb[n].keywords[:4]) or fb[n].title for n in self.neighbours[j])
            lines.append(f"Most similar other clusters (keywords): {sims}")
        if self.anchors is not None and self.anchors[j]:
            lines.append(f'Title must contain: "{self.anchors[j]}"')
        return "\n".join(lines)


def nearest_clusters(ctx: LevelContext, n: int = 2) -> list[np.ndarray] | None:
    """The ``n`` clusters with the nearest centroids, for each cluster (None below 3 clusters)."""
    if ctx.centroids is None or ctx.n_clusters < 3:
        return None
    C = ctx.centroids.astype(np.float32)
    sq = np.einsum("ij,ij->i", C, C)
    D = sq[:, None] - 2 * C @ C.T + sq[None, :]
    np.fill_diagonal(D, np.inf)
    return list(np.argsort(D, axis=1)[:, :n])


def principal_order(ctx: LevelContext) -> list[int]:
    """Cluster order along the first principal axis, so each prompt holds similar clusters."""
    if ctx.centroids is None or ctx.n_clusters < 3:
        return list(range(ctx.n_clusters))
    C = ctx.centroids - ctx.centroids.mean(axis=0)
    _, _, vt = np.linalg.svd(C, full_matrices=False)
    return [int(j) for j in np.argsort(C @ vt[0], kind="stable")]
