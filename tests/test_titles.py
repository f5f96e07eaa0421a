"""Title quality (issue 11): identification, duplicates and generic titles with known answers,
in ``evaluate`` without ground truth, and the labeler's verify-and-repair loop with fake LLMs."""

from __future__ import annotations

import numpy as np
import pytest

from hercules import Hercules
from hercules.labeling.llm.quality import (
    confusable,
    count_duplicates,
    duplicate_mask,
    generic_mask,
    identification_margins,
    normalise_title,
)
from tests.conftest import make_corpus
from tests.test_local_llm import llama_server  # noqa: F401  (fixture: SmolLM2 on 127.0.0.1)


def test_normalise_and_duplicates_ignore_case_punctuation_plurals():
    assert normalise_title("Top-Up Issues!") == normalise_title("top up issue") == "top up issue"
    assert normalise_title("Card Queries") == "card query"
    titles = ["Card Payments", "card payment", "Refunds", "Top-ups", "Top up"]
    assert duplicate_mask(titles).tolist() == [True, True, False, True, True]
    assert count_duplicates(titles) == 2
    assert count_duplicates(["a", "b"]) == 0


def test_generic_titles_known_answers():
    # umbrella words only, in any form
    assert generic_mask(["Various Issues", "General Questions", "Misc", "Card Payments"]).tolist() == [True, True, True, False]
    # words every sibling shares say nothing about one of them
    sib = ["Top-Up Issues", "Top-Up Limits", "Top-Up by Card", "Top-Up Verification"]
    assert generic_mask(sib).tolist() == [True, False, False, False]
    # the rule is per sibling group: two groups, the shared word counts only within each
    titles = ["Card Issues", "Card Delivery", "Card PIN", "Transfer Fees", "Transfer Issues", "Transfer Limits"]
    groups = np.array([0, 0, 0, 1, 1, 1])
    assert generic_mask(titles, groups).tolist() == [True, False, False, False, True, False]
    # groups below 3 siblings only use the stop-list
    assert generic_mask(["Card Payments", "Card"], np.array([0, 0])).tolist() == [False, False]


def test_identification_margins_and_confusable():
    C = np.eye(3, dtype=np.float32)
    T = np.array([[1, 0.1, 0], [0.9, 0.2, 0], [0, 0, 1]], dtype=np.float32)  # title 1 points at cluster 0
    m = identification_margins(T, C)
    assert (m > 0).tolist() == [True, False, True]
    assert confusable(T, C, 1, n=1) == [0]
    # candidate titles scored against chosen owners
    assert (identification_margins(T[:2], C, owners=np.array([0, 0])) > 0).tolist() == [True, True]


def test_evaluate_reports_title_quality_without_ground_truth():
    m = Hercules([6, 2], embedder="hashing:256", progress=False).fit(make_corpus())
    df = m.evaluate()
    assert {"title_identification", "duplicate_titles", "generic_titles"} <= set(df.columns)
    assert df["title_identification"].between(0, 1).all()
    assert df.loc[1, "title_identification"] >= 0.8  # keyword titles of clean topics pick their own cluster
    assert (df["duplicate_titles"] >= 0).all()
    one = m.evaluate(1)
    assert one["title_identification"] == pytest.approx(df.loc[1, "title_identification"])


def test_identification_skipped_with_a_reason_for_numeric_data():
    from sklearn.datasets import load_wine

    X = load_wine(as_frame=True).frame.drop(columns="target")
    m = Hercules([4], progress=False).fit(X)
    row = m.evaluate(1)
    assert np.isnan(row["title_identification"])
    assert "numeric" in row["title_identification_skipped"]
    assert row["duplicate_titles"] >= 0


def test_identification_skipped_for_precomputed_embeddings(corpus):
    E = np.random.default_rng(0).normal(size=(len(corpus), 16)).astype(np.float32)
    m = Hercules([4], embedder="hashing:64", progress=False).fit(corpus, embeddings=E)
    assert "precomputed" in m.evaluate(1)["title_identification_skipped"]


# ---------------------------------------------------------------- verify and repair (fake LLMs)
def _level(embed: bool = True, n_per_topic: int = 20):
    """A level-1 context whose clusters are the six topics of the synthetic corpus."""
    import pandas as pd

    from hercules.common.groups import group_means
    from hercules.data.dataset import prepare
    from hercules.embeddings import get_embedder
    from hercules.labeling.base import LevelContext

    df = make_corpus(n_per_topic)
    ds = prepare(df[["text"]], modality="text", text_column="text")
    emb = get_embedder("hashing:256", progress=False)
    X = np.asarray(emb.embed(list(df.text)), dtype=np.float32)
    y = pd.factorize(df.topic)[0].astype(np.int64)
    C = group_means(X, y, 6)
    embed_texts = (lambda texts, desc="": emb.embed(texts)) if embed else None
    return LevelContext(1, ds, y, 6, X, C, embed_texts=embed_texts)


def parent_level():
    """Level 2 over :func:`_level`: three parents of two topics each; returns (context, subcluster labels)."""
    import pandas as pd

    from hercules.common.groups import group_means
    from hercules.hierarchy import ClusterLabel
    from hercules.labeling.base import LevelContext

    low = _level()
    parent = np.array([0, 0, 1, 1, 2, 2])
    y2 = parent[low.item_labels]
    kids = [ClusterLabel(f"Topic {w}", "d", source="llm") for w in pd.unique(make_corpus(20).topic)]
    ctx = LevelContext(
        2, low.dataset, y2, 3, low.item_vectors, group_means(low.item_vectors, y2, 3), kids, parent, embed_texts=low.embed_texts
    )
    return ctx, kids


def _identified(ctx, labels) -> float:
    V = ctx.embed_texts([lb.title for lb in labels], "")
    return float(np.mean(identification_margins(V, ctx.centroids) > 0))


REPAIR_MARK = "Contrast cluster"


def _rotating_fake(stubborn: bool = False, candidates: bool = False):
    """A fake LLM that gives each cluster of a batch the next cluster's title; it answers a
    repair prompt honestly unless ``stubborn`` (then with a contrast cluster's title);
    ``candidates``: the rotated (wrong) title first, the honest one second."""
    import json

    from hercules.llm.fake import FakeLLM

    class Rotating(FakeLLM):
        async def acomplete(self, messages, *, schema=None):
            r = await super().acomplete(messages, schema=schema)
            prompt, honest = messages[-1]["content"], json.loads(r.text)
            if REPAIR_MARK in prompt:
                if stubborn:
                    wrong = prompt.split('(titled "')[1].split('"')[0]
                    r.text = json.dumps({k: {"title": wrong, "description": "d"} for k in honest})
                return r
            ids = list(honest)
            rotated = {k: honest[ids[(i + 1) % len(ids)]] for i, k in enumerate(ids)}
            if candidates:
                rotated = {k: {"titles": [rotated[k]["title"], honest[k]["title"]], "description": "d"} for k in ids}
            r.text = json.dumps(rotated)
            return r

    return Rotating()


def _label(llm, ctx, **opts):
    from hercules.labeling.llm import LLMLabeler

    opts = {"cache": False, "progress": False, "batch_size": 6, "repair_limit": 1.0, **opts}
    return LLMLabeler(llm, **opts).label_level(ctx)


def test_swapped_titles_are_caught_and_repaired():
    ctx = _level()
    fake = _rotating_fake()
    unchecked = _label(fake, ctx, verify=False)
    assert _identified(ctx, unchecked.labels) <= 0.2  # the fake really mislabels
    out = _label(fake, ctx)
    s = out.stats
    assert s["identification_before"] <= 0.2 and s["identification_after"] == 1.0
    assert s["repair_asked"] == 6 and s["repaired"] == 6
    assert _identified(ctx, out.labels) == 1.0
    assert all(lb.source == "llm-repaired" for lb in out.labels)
    assert len({normalise_title(lb.title) for lb in out.labels}) == 6


def test_a_repair_that_still_fails_keeps_the_better_of_llm_and_keyword_title():
    ctx = _level()
    out = _label(_rotating_fake(stubborn=True), ctx)
    assert out.stats["repaired"] == 0 and out.stats["keyword_fallbacks"] >= 5
    assert out.stats["identification_after"] > out.stats["identification_before"]
    assert {lb.source for lb in out.labels} <= {"keywords-fallback", "llm"}
    assert sum(lb.source == "keywords-fallback" for lb in out.labels) == out.stats["keyword_fallbacks"]


def test_generate_then_choose_picks_the_candidate_that_identifies_its_cluster():
    ctx = _level()
    fake = _rotating_fake(candidates=True)
    out = _label(fake, ctx, candidates=2, verify=False)
    assert out.stats["candidates_chosen"] == 6 and _identified(ctx, out.labels) == 1.0
    assert fake.calls == 1  # one prompt, two titles per cluster, no repair call


def test_candidate_prompt_and_schema_ask_for_several_titles():
    from hercules.labeling.llm import label_schema
    from hercules.labeling.llm.prompt import cluster_messages, parse_candidates

    ctx = _level()
    msgs = cluster_messages(ctx, ["L1-0"], ["### Cluster L1-0\n- x"], n_titles=3)
    assert "3 different candidate titles" in msgs[-1]["content"] and '"titles"' in msgs[-1]["content"]
    prop = label_schema(["L1-0"], 3)["properties"]["L1-0"]["properties"]["titles"]
    assert prop["minItems"] == prop["maxItems"] == 3
    got = parse_candidates('{"L1-0": {"titles": ["A b", "A b", "L1-0", "C d"], "description": "x"}}', ["L1-0"])
    assert got == {"L1-0": (["A b", "C d"], "x")}


def test_no_embedding_function_means_no_verification():
    ctx = _level(embed=False)
    out = _label(_rotating_fake(), ctx)
    assert "identification_before" not in out.stats
    assert all(lb.source == "llm" for lb in out.labels)


def test_titles_in_another_space_are_not_verified():
    ctx = _level()
    ctx.embed_texts = lambda texts, desc="": np.ones((len(texts), 3), dtype=np.float32)
    out = _label(_rotating_fake(), ctx)
    assert "identification_before" not in out.stats


# ---------------------------------------------------------------- a real small model on 127.0.0.1
@pytest.mark.slow
def test_verify_and_repair_end_to_end_with_a_real_model_on_loopback(llama_server):  # noqa: F811
    """SmolLM2-135M behind llama.cpp's OpenAI-compatible server: the whole loop (batch, check,
    re-ask alone with contrast, choose, fall back) runs on real answers and never makes
    identification worse; every cluster ends with a title and says where it came from."""
    from hercules.llm import LLMOptions, OpenAICompatibleProvider

    llm = OpenAICompatibleProvider(
        "smollm2", preset="llamacpp-server", base_url=llama_server, options=LLMOptions(max_tokens=400, timeout=300)
    )
    ctx = _level(n_per_topic=10)
    out = _label(llm, ctx, batch_size=3, samples=2, sample_chars=60, candidates=2)
    s = out.stats
    assert s["calls"] >= 2 and s["prompt_tokens"] > 0
    assert s["identification_after"] >= s["identification_before"]
    assert s["identification_after"] == pytest.approx(_identified(ctx, out.labels))
    assert s["repair_asked"] == 0 or s["calls"] > 2  # failing titles were asked again
    assert all(lb.title for lb in out.labels)
    assert {lb.source for lb in out.labels} <= {"llm", "llm-repaired", "llm-qualified", "keywords-fallback", "keywords"}


def test_prompts_of_a_level_share_their_instruction_prefix():
    """llama.cpp reuses an evaluated prefix: the varying parts (count, ids) come last."""
    from hercules.labeling.llm.prompt import cluster_messages

    ctx = _level()
    a = cluster_messages(ctx, ["L1-0", "L1-1"], ["### Cluster L1-0\n- x", "### Cluster L1-1\n- y"])[-1]["content"]
    b = cluster_messages(ctx, ["L1-2"], ["### Cluster L1-2\n- z"])[-1]["content"]
    shared = len(a) - len(a.lstrip()) + next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    assert shared >= a.index("These ") and "at most 25 words" in a[:shared]


def test_a_parent_that_keeps_copying_a_child_title_is_repaired():
    """Level 2 of three parents (two topics each): the fake gives each parent its first
    subcluster's title, even when asked again for duplicates; the repair prompt gets it right."""
    import json

    from hercules.llm.fake import FakeLLM

    class CopyChild(FakeLLM):
        async def acomplete(self, messages, *, schema=None):
            r = await super().acomplete(messages, schema=schema)
            prompt = messages[-1]["content"]
            if "is the title of one of its subclusters" not in prompt and "Subclusters:" in prompt:
                blocks = {b.split("\n", 1)[0]: b for b in prompt.split("### Cluster ")[1:]}
                first = {k: blocks[k].split('Subclusters:\n- "')[1].split('"')[0] for k in json.loads(r.text)}
                r.text = json.dumps({k: {"title": t, "description": "d"} for k, t in first.items()})
            return r

    ctx, kids = parent_level()
    out = _label(CopyChild(), ctx)
    assert out.stats["copied_child_titles"] == 3 and out.stats["repaired"] + out.stats["keyword_fallbacks"] == 3
    child_titles = {k.title for k in kids}
    assert all(lb.title not in child_titles for lb in out.labels)
    assert out.stats["identification_after"] == 1.0
