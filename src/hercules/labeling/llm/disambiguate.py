"""Second opinions within a level: clusters that got the same title are asked again together,
and so are parents that copied the title of one of their several subclusters (a parent must
name what its children share). A second answer replaces the first only where it came back. Also
which titles a cluster may not take at all: an item its prompt showed, a subcluster's title."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import numpy as np

from hercules.hierarchy import ClusterLabel
from hercules.labeling.base import LevelContext
from hercules.labeling.llm.quality import normalise_title
from hercules.llm.runner import gather_all

log = logging.getLogger(__name__)

DUPLICATE_NOTE = (
    'These {n} clusters were all titled "{title}". Give each a different title that names what distinguishes it from the others.'
)
COPIED_NOTE = (
    "Each of these clusters was given the title of one of its subclusters. "
    "Give each a broader title that covers all of its subclusters."
)

#: ``ask(clusters, note)`` -> new labels by cluster index (may be partial or empty).
AskAgain = Callable[[list[int], str], Awaitable[dict[int, ClusterLabel]]]


def _norm(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


def duplicate_groups(labels: list[ClusterLabel]) -> list[list[int]]:
    """Groups of LLM-titled clusters sharing a title (case and punctuation ignored)."""
    groups: dict[str, list[int]] = {}
    for j, lab in enumerate(labels):
        if lab.source == "llm":
            groups.setdefault(_norm(lab.title), []).append(j)
    return [g for g in groups.values() if len(g) > 1]


def parents_copying_a_child(ctx: LevelContext, labels: list[ClusterLabel]) -> list[int]:
    """LLM-titled clusters with several subclusters whose title is one of theirs."""
    if ctx.child_labels is None or ctx.child_parent is None:
        return []
    child_labels, child_parent = ctx.child_labels, ctx.child_parent
    out = []
    for j, lab in enumerate(labels):
        kids = np.flatnonzero(child_parent == j)
        if lab.source == "llm" and kids.size > 1 and _norm(lab.title) in {_norm(child_labels[c].title) for c in kids}:
            out.append(j)
    return out


async def disambiguate(ctx: LevelContext, labels: list[ClusterLabel], ask: AskAgain, copied: bool = True) -> int:
    """Ask again for duplicates, then (after those renames, and only with ``copied``) for parents copying
    a child; ``labels`` is updated in place. Returns how many clusters got a new label. The labeler leaves
    copied parents to verify-and-repair when it verifies: after being asked together here with one title each,
    20 of Banking77's 77 level-2 parents still copied a child (issue 11, session 7). The groups are asked
    concurrently: one after the other, a small model's many duplicate groups at a 300-cluster
    level kept one server slot busy for minutes while the others idled (issue 11)."""
    changed = 0
    groups = duplicate_groups(labels)
    if groups:
        log.info("level %d: asking again for %d groups of clusters with the same title", ctx.level, len(groups))

        async def one(dup: list[int]) -> tuple[list[int], dict[int, ClusterLabel]]:
            return dup, await ask(dup, DUPLICATE_NOTE.format(n=len(dup), title=labels[dup[0]].title))

        for dup, got in await gather_all(one, groups):
            changed += _apply(labels, dup, got)
    copied_parents = parents_copying_a_child(ctx, labels) if copied else []
    if copied_parents:
        log.info("level %d: asking again for %d parents that copied a subcluster's title", ctx.level, len(copied_parents))
        changed += _apply(labels, copied_parents, await ask(copied_parents, COPIED_NOTE))
    return changed


def _apply(labels: list[ClusterLabel], which: list[int], got: dict[int, ClusterLabel]) -> int:
    n = 0
    for j in which:
        if j in got:
            got[j].keywords = labels[j].keywords
            labels[j] = got[j]
            n += 1
    return n


def forbidden_titles(ctx: LevelContext, members: list[set[str]]) -> dict[int, set[str]]:
    """Normalised texts no title of a cluster may be: the items its prompt showed (``members``) and, for a
    parent of several subclusters, their titles."""
    out = {j: set(m) for j, m in enumerate(members)}
    if ctx.child_labels is not None and ctx.child_parent is not None:
        parent = np.asarray(ctx.child_parent)
        mine = np.flatnonzero(parent >= 0)  # -1: a child of a cluster not labelled here (update's sub-context)
        counts = np.bincount(parent[mine]) if len(mine) else np.zeros(0, dtype=np.int64)
        for c in mine.tolist():
            if counts[parent[c]] > 1:
                out.setdefault(int(parent[c]), set()).add(normalise_title(ctx.child_labels[c].title))
    return out


def child_titles(ctx: LevelContext, parents: list[int]) -> dict[int, set[str]]:
    """The subcluster titles of each of ``parents`` (none below level 2)."""
    if ctx.child_labels is None or ctx.child_parent is None:
        return {}
    kids = ctx.child_labels
    return {j: {kids[c].title for c in np.flatnonzero(ctx.child_parent == j)} for j in parents}
