"""Anchor terms (issue 11): each first-pass prompt asks the title to contain the cluster's keyword phrase
that best picks it out. Hand-built title space and the fake LLM: fast."""

from __future__ import annotations

import re

import numpy as np

from hercules.hierarchy import ClusterLabel
from hercules.labeling.base import LevelContext
from hercules.labeling.llm.anchors import anchor_terms
from hercules.labeling.llm.prompt import ANCHOR_RULE
from tests.test_titles import _label, _level


def _ctx(embed):
    C = np.eye(3, dtype=np.float32)
    return LevelContext(1, None, np.zeros(3, np.int64), 3, None, C, embed_texts=embed)  # type: ignore[arg-type]


def test_the_anchor_is_the_keyword_nearest_its_own_cluster_not_the_first():
    vecs = {
        "card": [0.6, 0.8, 0.0],  # first keyword of cluster 0, but nearer cluster 1: does not pick out 0
        "declined transfer": [1.0, 0.1, 0.0],
        "top up": [0.0, 1.0, 0.0],
        "atm": [0.0, 0.2, 1.0],
    }
    calls = []

    def embed(texts, desc=""):
        calls.append(list(texts))
        return np.array([vecs[t] for t in texts], dtype=np.float32)

    kws = [
        ClusterLabel("t0", "d", keywords=["card", "declined transfer"]),
        ClusterLabel("t1", "d", keywords=["top up", "card"]),
        ClusterLabel("t2", "d", keywords=[]),
    ]
    assert anchor_terms(_ctx(embed), kws) == ["declined transfer", "top up", ""]
    assert len(calls) == 1 and sorted(calls[0]) == sorted(vecs.keys() - {"atm"})  # one batch, each phrase once
    # no title space: the top keyword
    assert anchor_terms(_ctx(None), kws) == ["card", "top up", ""]


def test_anchor_prompts_name_the_phrase_and_the_rule_and_plain_prompts_do_not():
    from hercules.llm.fake import FakeLLM

    class Recording(FakeLLM):
        async def acomplete(self, messages, *, schema=None, max_tokens=None):
            self.prompts.append(messages[-1]["content"])
            return await super().acomplete(messages, schema=schema, max_tokens=max_tokens)

    ctx = _level()
    fake = Recording()
    fake.prompts = []
    out = _label(fake, ctx, batch_size=1, verify=False, disambiguate=False, anchor=True)
    assert len(fake.prompts) == 6 and all(ANCHOR_RULE.strip() in p for p in fake.prompts)
    own = [p[p.index("### Cluster L1-") :] for p in fake.prompts]  # after the worked example's own anchor
    anchors = [re.search(r'Title must contain: "([^"]+)"', p).group(1) for p in own]
    for p, a in zip(own, anchors):
        j = int(re.search(r"### Cluster L1-(\d+)", p).group(1))
        assert a in out.labels[j].keywords  # one of the cluster's own keyword phrases
    plain = Recording()
    plain.prompts = []
    _label(plain, ctx, batch_size=1, verify=False, disambiguate=False, anchor=False)
    assert not any("Title must contain" in p or ANCHOR_RULE.strip() in p for p in plain.prompts)


def test_a_copied_item_is_not_chosen_as_a_title_over_a_title_shaped_candidate():
    from hercules.labeling.llm.verify import TitleSpace, choose_candidates, title_shaped

    assert title_shaped("Card PIN Retrieval") and title_shaped("Exchange rates")
    assert not title_shaped("Help me find my card pin!") and not title_shaped("Why was my transfer declined?")
    assert not title_shaped("one two three four five six seven eight nine")
    vecs = {"Where is my card pin?": [1.0, 0.0], "Card PIN": [0.9, 0.3], "Top-up limits": [0.0, 1.0]}
    space = TitleSpace(lambda t: np.array([vecs[x] for x in t], dtype=np.float32), np.eye(2, dtype=np.float32))
    labels = [ClusterLabel("Where is my card pin?", "d", source="llm"), ClusterLabel("Top-up limits", "d", source="llm")]
    # the copied question identifies cluster 0 by a wider margin, but it is an example, not a name
    assert choose_candidates(space, labels, {0: ["Where is my card pin?", "Card PIN"]}) == 1
    assert labels[0].title == "Card PIN"


def test_a_title_that_names_only_the_shared_theme_is_qualified_by_a_keyword_of_its_own():
    """Two clusters split one theme: the LLM title "Card delivery" and the keyword-made titles sit between them; the
    title plus the cluster's own keyword picks it out, keeps the LLM's description and says where it came from."""
    import asyncio

    from hercules.labeling.llm.verify import TitleSpace, qualified, verify_and_repair

    vecs = {
        "Card delivery": [0.7, 0.7, 0.0],  # the theme both clusters share: identifies neither
        "Card Delivery Status": [0.6, 0.8, 0.0],  # keyword title of cluster 0: nearer cluster 1
        "delivery": [0.6, 0.8, 0.0],  # its anchor term, no better
        "Card delivery: tracking": [0.9, 0.4, 0.0],  # the first keyword the title lacks: picks out cluster 0
        "Card delivery: status": [0.5, 0.9, 0.0],
        "Card Arrival": [0.0, 1.0, 0.0],
        "Exchange rates": [0.0, 0.0, 1.0],
    }
    # any other title (the anchor term qualified: "delivery: card", ...) sits nearer cluster 1
    space = TitleSpace(
        lambda t: np.array([vecs.get(x, [0.6, 0.8, 0.0]) for x in t], dtype=np.float32), np.eye(3, dtype=np.float32)
    )
    kw0 = ["card", "tracking", "status", "delivery"]
    assert qualified("Card delivery", kw0) == ["Card delivery: tracking", "Card delivery: status"]  # words it lacks
    assert qualified("One two three four five six seven eight", ["tracking"]) == []  # would not be title-shaped
    labels = [
        ClusterLabel("Card delivery", "Card orders and their delivery.", source="llm"),
        ClusterLabel("Card Arrival", "d", source="llm"),
        ClusterLabel("Exchange rates", "d", source="llm"),
    ]
    fallback = [
        ClusterLabel("Card Delivery Status", "kw", keywords=kw0),
        ClusterLabel("Card Arrival", "kw", keywords=["arrival"]),
        ClusterLabel("Exchange rates", "kw", keywords=["rate"]),
    ]

    async def no_answer(j, contrast, why):
        return None

    stats = asyncio.run(verify_and_repair(space, labels, fallback, no_answer, 1, None, 1, None, {0: ["delivery"]}))
    assert labels[0].title == "Card delivery: tracking" and labels[0].source == "llm-qualified"
    assert labels[0].description == "Card orders and their delivery."
    assert stats["qualified"] == 1 and stats["keyword_fallbacks"] == 0 and stats["identification_after"] == 1.0
    # no qualifier picks it out: the title stays as it was
    vecs["Card delivery: tracking"] = [0.6, 0.8, 0.0]
    space._memo.clear()
    labels[0] = ClusterLabel("Card delivery", "Card orders and their delivery.", source="llm")
    stats = asyncio.run(verify_and_repair(space, labels, fallback, no_answer, 1, None, 1, None, {0: ["delivery"]}))
    assert labels[0].title == "Card delivery" and stats["qualified"] == 0


def test_a_title_that_only_repeats_its_siblings_gets_a_keyword_no_sibling_says():
    from hercules.labeling.llm.quality import generic_mask
    from hercules.labeling.llm.verify import sharpen_generic_siblings

    labels = [
        ClusterLabel("Exchange rates", "d", keywords=["rate", "exchange", "sterling", "pound"], source="llm"),
        ClusterLabel("Exchange rate of euro", "d", keywords=["euro"], source="llm"),
        ClusterLabel("Exchange rate for the yen", "d", keywords=["yen"], source="llm"),
        ClusterLabel("Exchange rate of dollars", "d", keywords=["dollar"], source="llm"),
        ClusterLabel("Exchange rates", "d", keywords=["rate", "sterling"], source="keywords"),  # another parent's child
        ClusterLabel("Card delivery", "d", keywords=["card"], source="llm"),
        ClusterLabel("Card delivery", "d", keywords=["card"], source="llm"),  # not labelled here (update): no siblings
    ]
    parent = np.array([0, 0, 0, 0, 1, 1, -1])
    assert generic_mask([lb.title for lb in labels], parent)[0]  # all its words are in most siblings' titles
    assert sharpen_generic_siblings(labels, parent) == 1
    # "rate" and "exchange" are said by its siblings: the first keyword none says
    assert labels[0].title == "Exchange rates: sterling" and labels[0].source == "llm-qualified"
    assert not generic_mask([lb.title for lb in labels], parent)[0]
    assert [lb.title for lb in labels[1:]] == [
        "Exchange rate of euro",
        "Exchange rate for the yen",
        "Exchange rate of dollars",
        "Exchange rates",  # two siblings: nothing is generic among them
        "Card delivery",
        "Card delivery",
    ]


def test_parent_labelling_sharpens_generic_children_before_its_prompts():
    from hercules.labeling.llm.quality import generic_mask
    from hercules.llm.fake import FakeLLM
    from tests.test_titles import parent_level

    ctx, _ = parent_level()
    ctx.child_labels[0] = ClusterLabel("Space", "d", keywords=["space", "rocket", "orbit"], source="llm")
    ctx.child_labels[1] = ClusterLabel("Space telescope", "d", keywords=["telescope"], source="llm")
    ctx.child_labels[2] = ClusterLabel("Space rocket launch", "d", keywords=["rocket"], source="llm")
    parent = ctx.child_parent.copy()
    parent[:3] = 0
    ctx.child_parent = parent
    assert generic_mask([lb.title for lb in ctx.child_labels], parent)[0]
    out = _label(FakeLLM(), ctx, verify=False, disambiguate=False)
    assert out.stats["children_sharpened"] == 1
    assert ctx.child_labels[0].title == "Space: orbit"  # "rocket" is said by a sibling


def test_parent_levels_can_be_asked_without_anchor_terms_which_stay_fallback_titles():
    from hercules.labeling.llm import LLMLabeler
    from hercules.llm.fake import FakeLLM
    from tests.test_titles import parent_level

    class Recording(FakeLLM):
        async def acomplete(self, messages, *, schema=None, max_tokens=None):
            self.prompts.append(messages[-1]["content"])
            return await super().acomplete(messages, schema=schema, max_tokens=max_tokens)

    ctx, _ = parent_level()
    for parents, shown in [(True, True), (False, False)]:
        fake = Recording()
        fake.prompts = []
        _label(fake, ctx, verify=False, disambiguate=False, anchor=True, anchor_parents=parents)
        assert fake.prompts and all(("Title must contain" in p) is shown for p in fake.prompts)
        assert all((ANCHOR_RULE.strip() in p) is shown for p in fake.prompts)
        plan = LLMLabeler(FakeLLM(), cache=False, anchor=True, anchor_parents=parents).plan(ctx)
        assert plan.anchors is not None and any(plan.anchors)  # still computed: a no-call fallback title
    level1 = Recording()
    level1.prompts = []
    _label(level1, _level(), verify=False, disambiguate=False, anchor=True, anchor_parents=False)
    assert all("Title must contain" in p for p in level1.prompts)  # leaves still ask for it
