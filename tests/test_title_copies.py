"""Copied titles (issue 11): a title may not be one of the items its prompt showed, nor (a parent's) one of
its subclusters' titles; a copy is replaced by another candidate without a call where one fits, else asked
again alone with its reason, else the best keyword-made title (keyword title or anchor term) stands.
Hand-built title spaces and the fake LLM: fast."""

from __future__ import annotations

import asyncio
import copy
import json
from types import SimpleNamespace

import numpy as np

from hercules.hierarchy import ClusterLabel
from hercules.labeling.llm.quality import normalise_title
from hercules.labeling.llm.verify import TitleSpace, choose_candidates, verify_and_repair
from tests.test_titles import _label, parent_level


def _space(vecs: dict[str, list[float]], k: int) -> TitleSpace:
    return TitleSpace(lambda t: np.array([vecs[x] for x in t], dtype=np.float32), np.eye(k, dtype=np.float32))


def test_a_candidate_equal_to_a_shown_item_is_not_chosen_though_it_identifies_better():
    vecs = {"I need to change my PIN.": [1.0, 0.0], "PIN Change": [0.8, 0.4], "Top-up limits": [0.0, 1.0]}
    space = _space(vecs, 2)
    labels = [ClusterLabel("I need to change my PIN.", "d", source="llm"), ClusterLabel("Top-up limits", "d", source="llm")]
    alternatives = {0: ["I need to change my PIN.", "PIN Change"]}
    # without the shown items the copy wins: it is title-shaped (6 words, no question mark) and identifies best
    assert choose_candidates(space, [ClusterLabel(lb.title, "d", source="llm") for lb in labels], alternatives) == 0
    forbidden = {0: {normalise_title("i need to change my pin")}}  # normalised: case and punctuation do not matter
    assert choose_candidates(space, labels, alternatives, forbidden) == 1
    assert labels[0].title == "PIN Change"


def test_a_member_copy_is_asked_again_with_its_reason_and_stays_where_it_identifies():
    vecs = {
        "my card got stuck in the atm": [1.0, 0.0, 0.0],  # cluster 0's LLM title: one of its items, copied
        "Card, Atm, Stuck": [0.5, 0.5, 0.0],  # its keyword title does not identify it
        "Swallowed Card": [0.9, 0.2, 0.0],  # its anchor term does
        "Top-up limits": [0.0, 1.0, 0.0],
        "Exchange rates": [0.0, 0.0, 1.0],
        "k1": [0.0, 1.0, 0.1],
        "k2": [0.1, 0.0, 1.0],
    }
    space = _space(vecs, 3)
    labels = [ClusterLabel(t, "d", source="llm") for t in ["my card got stuck in the atm", "Top-up limits", "Exchange rates"]]
    fallback = [ClusterLabel(t, "kd", source="keywords") for t in ["Card, Atm, Stuck", "k1", "k2"]]
    asked = []

    async def repair(j, others, why):
        asked.append((j, why))
        return None  # no usable answer

    forbidden = {0: {normalise_title("My card got stuck in the ATM!")}}
    stats = asyncio.run(verify_and_repair(space, labels, fallback, repair, 1, None, 1, forbidden, {0: ["Swallowed Card"]}))
    assert asked == [(0, "member")]  # it identified its cluster, but it is an example, not a name
    # no usable answer: the copy identifies, so it stays (keyword-made titles align worse than copied items)
    assert stats["copied_member_texts"] == 1 and stats["keyword_fallbacks"] == 0
    assert labels[0].title == "my card got stuck in the atm" and labels[0].source == "llm"
    assert [lb.title for lb in labels[1:]] == ["Top-up limits", "Exchange rates"]  # titles that pass are left alone
    assert stats["identification_after"] == 1.0
    # a copy that does not identify is treated like any failing title: the anchor title stands in
    vecs["my card got stuck in the atm"] = [0.0, 1.0, 0.0]
    space._memo.clear()
    labels[0] = ClusterLabel("my card got stuck in the atm", "d", source="llm")
    stats = asyncio.run(verify_and_repair(space, labels, fallback, repair, 1, None, 1, forbidden, {0: ["Swallowed Card"]}))
    assert labels[0].title == "Swallowed Card" and labels[0].source == "keywords-fallback"
    assert stats["identification_after"] == 1.0


def test_a_parent_whose_first_candidate_copies_a_child_keeps_its_own_candidate_without_a_call():
    """Level 2 of three parents: the fake's first candidate for each parent is its first subcluster's title,
    the second its own. The copy is not chosen, nothing is asked again, and no batch re-ask for copies is sent."""

    from hercules.labeling.llm.disambiguate import COPIED_NOTE
    from hercules.llm.fake import FakeLLM

    class CopyFirst(FakeLLM):
        prompts: list[str] = []

        async def acomplete(self, messages, *, schema=None, max_tokens=None):
            r = await super().acomplete(messages, schema=schema, max_tokens=max_tokens)
            prompt = messages[-1]["content"]
            self.prompts.append(prompt)
            blocks = {b.split("\n", 1)[0]: b for b in prompt.split("### Cluster ")[1:]}
            honest = json.loads(r.text)
            out = {}
            for k, v in honest.items():
                own = v["titles"][0] if "titles" in v else v["title"]
                first_kid = blocks[k].split('Subclusters:\n- "')[1].split('"')[0]
                out[k] = {"titles": [first_kid, own, own + " overview"], "description": "d"}
            r.text = json.dumps(out)
            return r

    ctx, kids = parent_level()
    fake = CopyFirst()
    fake.prompts = []
    out = _label(fake, ctx, batch_size=3, candidates=3)
    child_titles = {normalise_title(k.title) for k in kids}
    assert all(normalise_title(lb.title) not in child_titles for lb in out.labels)
    assert out.stats["candidates_chosen"] == 3 and out.stats["copied_child_titles"] == 0
    assert len(fake.prompts) == 1 and not any(COPIED_NOTE in p for p in fake.prompts)
    assert {"first_pass_s", "disambiguate_s", "verify_s"} <= set(out.stats)


def test_a_sentence_is_asked_again_and_stays_only_while_it_identifies():
    """Every candidate was a sentence, so one was chosen. Asked again (no answer here), it stays while it
    identifies its cluster; once it does not, the keyword title that does replaces it."""
    sentence = "This cluster is about the card that was swallowed by the machine today"
    vecs = {sentence: [1.0, 0.0], "Card, Atm": [0.9, 0.1], "k1": [0.0, 1.0], "Top-up limits": [0.0, 1.0]}
    space = _space(vecs, 2)
    asked = []

    async def repair(j, others, why):
        asked.append((j, why))
        return None

    def run() -> list[ClusterLabel]:
        labels = [ClusterLabel(sentence, "d", source="llm"), ClusterLabel("Top-up limits", "d", source="llm")]
        fallback = [ClusterLabel("Card, Atm", "kd", source="keywords"), ClusterLabel("k1", "kd", source="keywords")]
        asyncio.run(verify_and_repair(space, labels, fallback, repair, 1, None, 1))
        return labels

    assert run()[0].title == sentence
    vecs[sentence] = [0.1, 0.9]
    space._memo.clear()
    assert run()[0].title == "Card, Atm"
    assert asked == [(0, "member"), (0, "member")]


# ---------------------------------------------------------------- the worked example in the instructions
def _answer_of_example(prompt: str) -> dict:
    line = next(s for s in prompt.split("\n") if s.startswith("Answer: "))
    return json.loads(line.removeprefix("Answer: "))["E1"]


def test_the_worked_example_shows_the_asked_answer_shape_before_the_levels_own_part():
    from hercules.labeling.llm.prompt import ANCHOR_RULE, cluster_messages
    from tests.test_titles import _level

    ctx = _level()
    for n, anchor in [(1, False), (3, True), (5, True)]:
        a = cluster_messages(ctx, ["L1-0"], ["### Cluster L1-0\n- x"], n_titles=n, anchor=anchor, example=True)[-1]["content"]
        b = cluster_messages(ctx, ["L1-3"], ["### Cluster L1-3\n- y"], n_titles=n, anchor=anchor, example=True)[-1]["content"]
        ex = _answer_of_example(a)
        titles = [ex["title"]] if n == 1 else ex["titles"]
        assert len(titles) == n == len(set(titles)) and ex["description"]
        assert ("Title must contain" in a) == anchor == (ANCHOR_RULE.strip() in a)
        assert ("Subclusters:" in a) is False  # a leaf level shows a leaf example
        # the example lies in the prefix shared by every prompt of the level (a llama.cpp prompt cache reuses it)
        shared = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        assert a.index("### Example cluster E1") < a.index("Answer: ") < a.index("These 1 clusters") <= shared
        # the example's titles are names, not copies of its items
        items = [s[3:-1].lower() for s in a.split("\n") if s.startswith('- "')]
        assert items and not any(t.lower() in items for t in titles)
    parent = parent_level()[0]
    p = cluster_messages(parent, ["L2-0"], ["### Cluster L2-0\n- x"], n_titles=3, example=True)[-1]["content"]
    assert "Subclusters:" in p.split("These ")[0] and len(_answer_of_example(p)["titles"]) == 3
    assert "Example" not in cluster_messages(ctx, ["L1-0"], ["### Cluster L1-0\n- x"], example=False)[-1]["content"]


def test_the_labeler_shows_the_example_for_text_only_and_can_be_told_not_to():
    from hercules.labeling.llm.prompt import cluster_messages
    from hercules.llm.fake import FakeLLM
    from tests.test_titles import _level

    class Recording(FakeLLM):
        async def acomplete(self, messages, *, schema=None, max_tokens=None):
            self.prompts.append(messages[-1]["content"])
            return await super().acomplete(messages, schema=schema, max_tokens=max_tokens)

    def prompts(ctx, **opts):
        fake = Recording()
        fake.prompts = []
        out = _label(fake, ctx, batch_size=2, verify=False, disambiguate=False, **opts)
        assert len(out.labels) == ctx.n_clusters and all(lb.source == "llm" for lb in out.labels)
        return fake.prompts

    ctx = _level()
    assert all("### Example cluster E1" in p for p in prompts(ctx, examples=True))
    assert not any("Example" in p for p in prompts(ctx))  # off by default: docs/BENCHMARKS.md, Title quality
    numeric = copy.copy(ctx)
    numeric.dataset = SimpleNamespace(modality="numeric")  # all the prompt reads of a dataset
    msgs = cluster_messages(numeric, ["L1-0"], ["### Cluster L1-0\n- x"], example=True)
    assert "Example" not in msgs[-1]["content"]  # text items shown to numeric data would mislead
