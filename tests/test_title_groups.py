"""Neighbour groups and capped repairs (issue 11): near-identical sibling clusters share a prompt
and are asked to be told apart; at most a share of a level is asked again, the rest keep the
better of their LLM and keyword titles. Fake LLMs, hashing embeddings: fast."""

from __future__ import annotations

import re

import numpy as np

from hercules.labeling.llm.groups import NEIGHBOURS_NOTE, nearest_lists, neighbour_groups
from tests.test_titles import _label, _level, _rotating_fake


def test_neighbour_groups_put_twin_clusters_together_and_cover_every_cluster_once():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 32))
    # 12 clusters: each centre twice, with a little noise; shuffled so index order says nothing
    perm = rng.permutation(12)
    C = (np.repeat(centres, 2, axis=0) + 0.01 * rng.normal(size=(12, 32)))[perm]
    twin = np.repeat(np.arange(6), 2)[perm]
    groups = neighbour_groups(C, 2, list(range(12)))
    assert sorted(j for g in groups for j in g) == list(range(12))
    assert all(len(g) == 2 and twin[g[0]] == twin[g[1]] for g in groups)
    # size 1, or too few clusters: one cluster per group, in the fallback order
    assert neighbour_groups(C, 1, [3, 1, 2]) == [[3], [1], [2]]
    idx, sim = nearest_lists(C, 3)
    assert idx.shape == (12, 3) and (idx != np.arange(12)[:, None]).all()
    assert (np.diff(sim, axis=1) <= 1e-6).all()  # nearest first
    assert all(twin[idx[j, 0]] == twin[j] for j in range(12))


def _twin_level():
    """Twelve clusters: each of the six topics split in two by row parity (twins)."""
    from hercules.common.groups import group_means
    from hercules.labeling.base import LevelContext

    ctx = _level()
    y = ctx.item_labels * 2 + np.arange(len(ctx.item_labels)) % 2
    return LevelContext(
        1, ctx.dataset, y, 12, ctx.item_vectors, group_means(ctx.item_vectors, y, 12), embed_texts=ctx.embed_texts
    )


def test_twin_clusters_share_a_prompt_that_asks_to_tell_them_apart():
    from hercules.llm.fake import FakeLLM

    class Recording(FakeLLM):
        prompts: list[str] = []

        async def acomplete(self, messages, *, schema=None, max_tokens=None):
            self.prompts.append(messages[-1]["content"])
            return await super().acomplete(messages, schema=schema, max_tokens=max_tokens)

    ctx = _twin_level()
    fake = Recording()
    _label(fake, ctx, batch_size=2, verify=False, disambiguate=False, grouping="neighbours")
    batches = [[int(c.split("-")[1]) for c in re.findall(r"### Cluster (\S+)", p)] for p in fake.prompts]
    assert len(batches) == 6 and all(len(b) == 2 and b[0] // 2 == b[1] // 2 for b in batches)
    assert all(NEIGHBOURS_NOTE in p for p in fake.prompts)
    fake = Recording()
    fake.prompts = []
    _label(fake, ctx, batch_size=2, verify=False, disambiguate=False, grouping="principal")
    assert not any(NEIGHBOURS_NOTE in p for p in fake.prompts)


def test_repairs_are_capped_worst_first_and_the_rest_keep_the_better_title():
    ctx = _level()
    fake = _rotating_fake()
    out = _label(fake, ctx, repair_limit=0.5)  # ceil(0.5 * 6) = 3 of the 6 failing titles asked again
    s = out.stats
    assert s["identification_before"] <= 0.2
    assert s["repair_asked"] == 3 and s["repaired"] == 3 and s["repair_skipped"] == 3
    assert sum(lb.source == "llm-repaired" for lb in out.labels) == 3
    assert s["keyword_fallbacks"] >= 2  # the unasked keep the keyword title where it identifies better
    assert s["identification_after"] > s["identification_before"] + 0.5
    unasked = _label(_rotating_fake(), ctx, verify=False)
    margins_before = sorted(m for m, _ in s["repair_outcomes"])
    assert len(margins_before) == 3
    from hercules.labeling.llm.verify import title_space

    all_margins = np.sort(title_space(ctx).margins([lb.title for lb in unasked.labels]))
    assert np.allclose(margins_before, all_margins[:3], atol=1e-3)  # the three worst were asked
    none = _label(_rotating_fake(), ctx, repair_limit=0.0)
    assert none.stats["repair_asked"] == 0 and none.stats["repaired"] == 0
    # a small level asks at least MIN_REPAIRS = 3 again: 10% of 6 clusters would be one
    floor = _label(_rotating_fake(), ctx, repair_limit=0.1)
    assert floor.stats["repair_asked"] == 3 and floor.stats["repair_skipped"] == 3


def test_clusters_whose_keyword_title_fails_too_are_asked_first():
    """Within the cap, a repair goes where it is the only way to an identifying title: there the
    keyword title fails as well; elsewhere the keyword title stands in without a call."""
    import asyncio

    from hercules.hierarchy import ClusterLabel
    from hercules.labeling.llm.verify import TitleSpace, verify_and_repair

    vec = {
        "a0": [0, 1, 0],  # cluster 0's LLM title points at cluster 1 (margin -1, the worst)
        "a1": [0, 0.6, 0.8],  # cluster 1's leans to cluster 2 (margin -0.2, the mildest)
        "a2": [1, 0, 0],  # cluster 2's points at cluster 0 (margin -1)
        "k0": [1, 0, 0],
        "k1": [1, 0.1, 0],  # cluster 1's keyword title fails too
        "k2": [0, 0, 1],
        "r1": [0, 1, 0],
    }
    space = TitleSpace(lambda ts: np.array([vec[t] for t in ts], dtype=np.float32), np.eye(3, dtype=np.float32))
    labels = [ClusterLabel(f"a{j}", "d", source="llm") for j in range(3)]
    fallback = [ClusterLabel(f"k{j}", "kd", source="keywords") for j in range(3)]
    asked = []

    async def repair(j, others, copied):
        asked.append(j)
        return [f"r{j}"], "new"

    stats = asyncio.run(verify_and_repair(space, labels, fallback, repair, 1, limit=1))
    assert asked == [1]
    assert [lb.title for lb in labels] == ["k0", "r1", "k2"]
    assert [lb.source for lb in labels] == ["keywords-fallback", "llm-repaired", "keywords-fallback"]
    assert stats["identification_after"] == 1.0 and stats["repair_skipped"] == 2
