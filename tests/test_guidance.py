"""Guidance by a judge (ClusterLLM): the label judge reshapes the vectors and picks k, the guard
refuses a coin, the LLM judge survives a faulty server and resumes from its cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fault_server import FaultServer
from sklearn.metrics import normalized_mutual_info_score as nmi
from test_local_llm import llama_server  # noqa: F401 - the SmolLM2 server fixture on 127.0.0.1

from hercules import Hercules
from hercules.guidance import LabelJudge, LLMJudge, parse_guide
from hercules.guidance.pairs import choose_k_by_pairs
from hercules.llm import LLMOptions, OpenAICompatibleProvider, ResponseCache
from hercules.llm.base import PermanentLLMError


def distractor_set(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """6 topics in 8 dimensions, and a 4-way distractor as strong as the topics in 8 more: k-means
    on the raw vectors mixes the two; a judge who knows the topics can teach the space which matters."""
    rng = np.random.default_rng(seed)
    y, z = rng.integers(0, 6, n), rng.integers(0, 4, n)
    A, B = rng.normal(size=(6, 8)), rng.normal(size=(4, 8)) * 1.5
    X = np.c_[A[y] + 0.6 * rng.normal(size=(n, 8)), B[z] + 0.6 * rng.normal(size=(n, 8)), rng.normal(size=(n, 16))]
    return pd.DataFrame({"text": [f"item {i}" for i in range(n)], "topic": y}), X.astype(np.float32)


def test_parse_guide():
    assert parse_guide("llm") == ("llm", None, 0.0)
    assert parse_guide("labels:category") == ("labels", "category", 0.0)
    assert parse_guide("labels:my:col:0.25") == ("labels", "my:col", 0.25)
    for bad in ("label:x", "labels:", "labels:x:1.5", "gpt"):
        with pytest.raises(ValueError):
            parse_guide(bad)
    with pytest.raises(ValueError, match="needs a judge"):
        Hercules("guided").fit(["a", "b", "c"])


def test_label_judge_answers_with_known_noise():
    y = np.repeat(np.arange(10), 100)
    rng = np.random.default_rng(0)
    q = np.stack([rng.integers(0, 1000, 4000), rng.integers(0, 1000, 4000)], axis=1)
    truth = (y[q[:, 0]] == y[q[:, 1]]).astype(np.int8)
    assert (LabelJudge(y).pairs(q) == truth).all()
    assert abs((LabelJudge(y, noise=0.2, seed=1).pairs(q) == truth).mean() - 0.8) < 0.03
    t = LabelJudge(y).triplets(np.array([[0, 1, 500], [0, 500, 1], [0, 500, 600]]))
    assert t.tolist() == [0, 1, -1]


def test_label_judge_reshapes_the_space_and_predict_uses_it(tmp_path):
    df, X = distractor_set()
    base = Hercules([6], progress=False).fit(df, embeddings=X)
    guided = Hercules([6], guide="labels:topic:0.1", guide_triplets=512, progress=False).fit(df, embeddings=X)
    report = guided.encoder_.guidance_
    assert report["control"]["reliable"] and report["triplets"]["applied"]
    assert guided.encoder_.adapter_.shape == (32, 32)
    before, after = nmi(df.topic, base.labels_), nmi(df.topic, guided.labels_)
    assert after > before + 0.05, (before, after)
    # saved with the result; predict maps new vectors through the adapter
    guided.save(tmp_path / "r")
    loaded = Hercules.load(tmp_path / "r")
    np.testing.assert_allclose(loaded.encoder_.adapter_, guided.encoder_.adapter_)
    assert (loaded.predict(embeddings=X) == guided.labels_).mean() > 0.95


def test_levels_above_a_guided_level_group_by_the_vectors_before_guidance(monkeypatch):
    """The judge shapes level 1; level 2 groups the level-1 clusters by their item means in the vectors as they were
    before guidance (not in the adapted space), and unguided fits never take that path."""
    import hercules.pipeline.builder as builder
    from hercules.pipeline.coarse import coarse_prior

    # the grouping itself: node means in ``prior`` decide, centroids are weighted means in the node space
    prior = np.repeat(np.array([[1, 0], [0, 1], [1, 0.1], [0.1, 1]], dtype=np.float32), 5, axis=0)
    item_nodes = np.repeat(np.arange(4), 5)
    space = np.array([[0.0], [0.1], [5.0], [5.1]], dtype=np.float32)  # the space pairs 0-1 and 2-3
    import hercules.pipeline.coarse as coarse

    for ward_limit in (coarse.MAX_WARD_NODES, 3):  # Ward of the means; k-means of them beyond the limit
        monkeypatch.setattr(coarse, "MAX_WARD_NODES", ward_limit)
        got = coarse_prior(prior, item_nodes, space, np.array([1.0, 1.0, 1.0, 3.0]), 2, np.random.default_rng(0))
        assert got.labels[0] == got.labels[2] != got.labels[1] == got.labels[3]  # prior pairs 0-2 and 1-3
        np.testing.assert_allclose(sorted(got.centroids.ravel()), [2.5, (0.1 + 3 * 5.1) / 4], rtol=1e-5)

    seen: list[np.ndarray] = []
    real = builder.coarse_prior
    monkeypatch.setattr(builder, "coarse_prior", lambda p, *a: seen.append(p) or real(p, *a))
    df, X = distractor_set()
    Hercules([6, 2], progress=False).fit(df, embeddings=X)
    assert seen == []
    guided = Hercules([6, 2], guide="labels:topic:0.1", guide_triplets=512, progress=False).fit(df, embeddings=X)
    assert guided.encoder_.guidance_["triplets"]["applied"]
    assert len(seen) == 1 and np.array_equal(seen[0], X) and not np.allclose(guided.embeddings_, X)


def test_answers_join_anchors_to_their_closer_item_in_the_space():
    """guide_links: each answered anchor is joined to the item the judge chose in the UMAP space's neighbour graph,
    so more anchors end in the same cluster as that item than with the adapter alone; the report counts the links."""
    from hercules.guidance.stage import Guide, GuideConfig

    df, X = distractor_set()
    kept: dict[str, np.ndarray] = {}
    real_links = Guide.links

    def spy(self):
        out = real_links(self)
        kept["answers"] = self.answers
        return out

    together = {}
    for links in (False, True):
        Guide.links = spy  # type: ignore[method-assign]
        try:
            m = Hercules([6], space="umap", guide="labels:topic:0.1", guide_triplets=512, guide_links=links, progress=False)
            m.fit(df, embeddings=X)
        finally:
            Guide.links = real_links  # type: ignore[method-assign]
        T, report = kept["answers"], m.encoder_.guidance_["triplets"]
        assert report.get("links", 0) == (len(T) if links else 0)
        together[links] = float((m.labels_[T[:, 0]] == m.labels_[T[:, 1]]).mean())
    assert together[True] > together[False] + 0.03, together
    assert not GuideConfig.from_params({"guide_links": False}).links


def test_guard_rejects_a_random_judge():
    df, X = distractor_set()
    base = Hercules([6], progress=False).fit(df, embeddings=X)
    coin = Hercules([6], guide="labels:topic:0.5", guide_triplets=256, progress=False).fit(df, embeddings=X)
    report = coin.encoder_.guidance_
    assert report["control"]["reliable"] is False and report["warnings"]
    assert coin.encoder_.adapter_ is None
    assert (coin.labels_ == base.labels_).all()  # never worse than no guidance: the same clustering


def test_margin_anchors_lie_between_two_clusters_and_get_answered():
    """Anchors by margin sit on the border of the two clusters the triplet asks about; entropy also picks items
    lost among several clusters (a grid's corners between four), where neither candidate may be right: a label
    judge answers more of the margin questions."""
    from hercules.guidance.select import border_triplets, soft_assign

    rng = np.random.default_rng(0)
    centres = np.array([(i, j) for i in range(4) for j in range(4)], dtype=np.float64) * 4.0
    y = rng.integers(0, 16, 4000)
    X = (centres[y] + rng.normal(scale=1.3, size=(4000, 2))).astype(np.float32)
    rates = {"margin": [], "entropy": []}
    for seed in range(3):
        sa = soft_assign(X, 16, np.random.default_rng(seed))
        assert ((sa.margin >= 0) & (sa.margin <= 1)).all()
        for by in rates:
            q = border_triplets(sa, 200, np.random.default_rng(seed), by=by).questions
            rates[by].append(float((LabelJudge(y).triplets(q) >= 0).mean()))
    assert np.mean(rates["margin"]) > np.mean(rates["entropy"]) + 0.05, rates
    both = border_triplets(sa, 20, rng, by="both").questions[:, 0]  # the two rankings in turn, no item twice
    assert len(set(both)) == 20 and {np.argmax(sa.margin), np.argmax(sa.entropy)} <= set(both)
    with pytest.raises(ValueError, match="margin"):
        border_triplets(sa, 10, rng, by="distance")


def test_held_out_test_repeats_its_splits_and_hears_a_judge_the_vectors_miss():
    """The guard's held-out estimate: each answer's share of the repeated splits in which an adapter not trained on it
    predicts it; answers that follow the topics (not the distractor the raw vectors also see) are predicted better
    than by the raw vectors, answers flipped at random are not."""
    from hercules.guidance.adapter import choose_l2
    from hercules.guidance.select import border_triplets, oriented, soft_assign

    df, X = distractor_set()
    rng = np.random.default_rng(0)
    questions = border_triplets(soft_assign(X, 6, rng), 300, rng).questions
    gains = {}
    for noise in (0.0, 0.5):
        T = oriented(questions, LabelJudge(df.topic.to_numpy(), noise=noise, seed=1).triplets(questions))
        _, held, base = choose_l2(X, T, np.random.default_rng(1), repeats=4)
        assert held.shape == base.shape == (len(T),)
        assert set(np.unique(held * 4)) <= {0.0, 1.0, 2.0, 3.0, 4.0}  # shares of 4 repeats
        assert ((held > 0) & (held < 1)).any()  # the splits differ: some answers are predicted in some repeats only
        gains[noise] = float(held.mean() - base.mean())
    assert gains[0.0] > 0.05 and gains[0.0] > gains[0.5] + 0.05, gains


def test_consistency_hears_a_judge_and_not_a_coin():
    """Half of the guard's second test: answers of a judge that knows the topics choose the same side of a border for
    nearby anchors far more often than half; a coin's about 5% of the time (the null is simulated, so calibrated)."""
    from hercules.guidance.consistency import answer_consistency, buddies
    from hercules.guidance.select import border_triplets, oriented, soft_assign

    df, X = distractor_set()
    zs: dict[float, list[float]] = {0.0: [], 0.5: []}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        sa = soft_assign(X, 6, rng)
        questions = border_triplets(sa, 300, rng).questions
        for noise in zs if seed < 5 else (0.5,):
            T = oriented(questions, LabelJudge(df.topic.to_numpy(), noise=noise, seed=seed).triplets(questions))
            c = answer_consistency(X, T, sa.labels, np.random.default_rng(seed))
            assert c.pairs > 50
            zs[noise].append(c.z)
    coin = np.array(zs[0.5])
    assert min(zs[0.0]) > 1.645 and np.mean(zs[0.0]) > 3.0, zs  # a judge that knows passes on every seed
    assert (coin > 1.645).sum() <= 3 and abs(coin.mean()) < 0.6, zs  # a coin about 5% of the time (1 of 20 expected)
    b = buddies(np.eye(4, dtype=np.float32) + 0.1, np.arange(4), np.array([7, 7, 3, 9]))
    assert b.tolist() == [1, 0, -1, -1]  # a buddy only on the same border
    import hercules.guidance.consistency as consistency

    Y, one_border = np.random.default_rng(0).normal(size=(50, 4)), np.zeros(50, dtype=np.int64)
    whole = buddies(Y, np.arange(50), one_border)
    consistency._BLOCK, block = 7, consistency._BLOCK
    try:  # a big border is searched in blocks of rows: the same buddies
        assert (buddies(Y, np.arange(50), one_border) == whole).all() and (whole != np.arange(50)).all()
    finally:
        consistency._BLOCK = block


def test_a_judge_guessing_on_hard_questions_reshapes_nothing():
    """Right on the control questions (taken as passed here), a coin on the hard ones: neither half of the second
    test hears it, the adapter is not applied, and the report says why."""
    from hercules.guidance.stage import Guide

    df, X = distractor_set()
    real = Guide.check_judge
    Guide.check_judge = lambda self, X: True  # type: ignore[method-assign]
    try:
        m = Hercules([6], guide="labels:topic:0.5", guide_triplets=512, progress=False).fit(df, embeddings=X)
    finally:
        Guide.check_judge = real  # type: ignore[method-assign]
    report = m.encoder_.guidance_
    t = report["triplets"]
    assert t["applied"] is False and m.encoder_.adapter_ is None, t
    assert t["consistency_z"] < 1.645 and t["heldout_z"] < 2.326 and any("guesses" in w for w in report["warnings"])


def test_pair_answers_choose_k():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 12, 1200)
    X = (rng.normal(size=(12, 16)) * 3)[y] + rng.normal(size=(1200, 16))
    choice = choose_k_by_pairs(X, LabelJudge(y, noise=0.1).pairs, None, None, (2, 60), 600, rng)
    assert choice.k is not None and 10 <= choice.k <= 14, choice
    coin = choose_k_by_pairs(X, LabelJudge(y, noise=0.5).pairs, None, None, (2, 60), 600, rng)
    assert coin.k is None  # a coin favours no k


def test_guided_levels_end_to_end():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 12, 1200)
    X = ((rng.normal(size=(12, 16)) * 3)[y] + rng.normal(size=(1200, 16))).astype(np.float32)
    df = pd.DataFrame({"text": [f"t{i}" for i in range(1200)], "label": y})
    m = Hercules("guided", guide="labels:label:0.1", guide_triplets=0, guide_pairs=600, progress=False).fit(df, embeddings=X)
    level = m.hierarchy_.level(1)
    assert level.auto_k["guided"] == level.k and 10 <= level.k <= 14, level.auto_k


def _triplets(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 40, size=(n, 3))


def test_llm_judge_retries_through_a_faulty_server_and_caches(tmp_path):
    texts = [f"text number {i} about topic {i % 4}" for i in range(40)]
    with FaultServer(script=["500", "429"]) as server:
        llm = OpenAICompatibleProvider("m", preset="openai", base_url=server.url, api_key="k", options=LLMOptions(timeout=10))
        cache = ResponseCache(tmp_path / "c.sqlite")
        judge = LLMJudge(llm, texts, cache=cache, progress=False, both_orders=False)  # the server answers by prompt length
        answers = judge.triplets(_triplets(12))
        assert set(answers.tolist()) <= {0, 1} and len(answers) == 12  # every question answered after the retries
        assert len(server.requests) == 12 + 2
        assert judge.pairs(np.array([[0, 1], [2, 3]])).tolist() in ([1, 0], [0, 1], [1, 1], [0, 0])
        again = LLMJudge(llm, texts, cache=cache, progress=False, both_orders=False).triplets(_triplets(12))
        assert (again == answers).all() and len(server.requests) == 12 + 2 + 2  # all from the cache


def test_killed_guided_run_resumes_without_asking_twice(tmp_path, corpus):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with FaultServer(script=["ok"] * 20, default="401") as server:
        llm = OpenAICompatibleProvider("m", preset="openai", base_url=server.url, api_key="k", options=LLMOptions(timeout=10))
        params = {"llm": llm, "llm_options": {"cache": cache}, "guide": "llm", "guide_triplets": 64, "progress": False}
        with pytest.raises(PermanentLLMError):  # the run dies after 20 answers
            Hercules([4], embedder="hashing:256", **params).fit(corpus)
        asked = [r["messages"][-1]["content"] for r in server.requests]
        answered_first = set(asked[:20])
        server.default = "ok"
        n_first = len(server.requests)
        Hercules([4], embedder="hashing:256", **params).fit(corpus)
        second = [r["messages"][-1]["content"] for r in server.requests[n_first:]]
        judged = [p for p in second if "Answer with only" in p]
        assert judged and not answered_first & set(judged)  # nothing answered before is asked again
        assert len(judged) == len(set(judged))


def test_llm_judge_asks_both_orders_and_drops_a_position_bias():
    """A judge that knows the answer on some questions and says "2" on the rest: asked once it looks 2/3 right with
    a lean; asked in both orders it answers only where it knows, and is then always right."""
    import json

    from hercules.llm.base import LLMResponse
    from hercules.llm.fake import FakeLLM

    texts = [f"item {i} of topic {i % 3}" for i in range(30)]

    class Leaning(FakeLLM):
        async def acomplete(self, messages, *, schema=None, max_tokens=None):
            self.calls += 1
            prompt = messages[-1]["content"]
            q, c1, c2 = (prompt.split(f"{tag}: ")[1].split("\n")[0] for tag in ("Query", "Choice 1", "Choice 2"))
            topic = lambda t: t.rsplit(" ", 1)[1]  # noqa: E731
            knows = int(q.split()[1]) % 2 == 0  # even anchors: the judge knows the topic
            pick = ("1" if topic(c1) == topic(q) else "2") if knows else "2"
            return LLMResponse(json.dumps({"answer": pick}), prompt_tokens=10, completion_tokens=3, finish_reason="stop")

    rng = np.random.default_rng(0)
    a = rng.integers(0, 30, 200)
    same = (a + 3 * rng.integers(1, 9, 200)) % 30
    other = (a + 1 + 3 * rng.integers(0, 9, 200)) % 30
    q = np.where(rng.random((200, 1)) < 0.5, np.c_[a, same, other], np.c_[a, other, same])
    truth = (q[:, 2] == same).astype(int)  # 1: the second candidate shares the anchor's topic
    once_judge, both_judge = (
        LLMJudge(Leaning(), texts, progress=False, both_orders=False),
        LLMJudge(Leaning(), texts, progress=False),
    )
    once, both = once_judge.triplets(q), both_judge.triplets(q)
    assert (once == truth).mean() < 0.9 and (once == 1).mean() > 0.6  # the lean shows when asked once
    answered = both >= 0
    assert (both[answered] == truth[answered]).all() and answered.sum() == (a % 2 == 0).sum()
    assert once_judge.stats["calls"] == 200 and both_judge.stats["calls"] == 400
    assert both_judge.stats["order_disagreements"] == (a % 2 == 1).sum()


@pytest.mark.slow
def test_llm_judge_with_a_real_small_model_on_localhost(llama_server, tmp_path):  # noqa: F811
    texts = ["my card was declined at the shop", "payment with my card refused", "how do I change my PIN"]
    llm = OpenAICompatibleProvider("smollm2", preset="llamacpp-server", base_url=llama_server, options=LLMOptions(timeout=300))
    cache = ResponseCache(tmp_path / "c.sqlite")
    judge = LLMJudge(llm, texts, cache=cache, progress=False, both_orders=False)
    triplet, pair = judge.triplets(np.array([[0, 1, 2]])), judge.pairs(np.array([[0, 1]]))
    assert triplet[0] in (0, 1) and pair[0] in (0, 1)  # schema-constrained: always a usable answer
    assert judge.stats["calls"] == 2 and judge.stats["prompt_tokens"] > 0
    # both orders (the default): the same two prompts as asking each order once, so both come from the cache
    swapped = LLMJudge(llm, texts, cache=cache, progress=False, both_orders=False).triplets(np.array([[0, 2, 1]]))
    both = LLMJudge(llm, texts, cache=cache, progress=False)
    answer = both.triplets(np.array([[0, 1, 2]]))
    assert both.stats["calls"] == 0 and both.stats["cache_hits"] == 2
    assert answer[0] == (triplet[0] if triplet[0] == 1 - swapped[0] else -1)


def test_cli_run_with_a_guide_and_the_app_form(tmp_path, corpus):
    from click.testing import CliRunner

    from hercules.app.runner import Choices, validate_run
    from hercules.cli.main import cli

    data = tmp_path / "data.csv"
    corpus.to_csv(data, index=False)
    args = ["run", str(data), "--embedder", "hashing:256", "--levels", "6", "-o", str(tmp_path / "r"), "--no-progress"]
    r = CliRunner().invoke(cli, [*args, "--guide", "labels:topic:0.1", "--guide-triplets", "128"])
    assert r.exit_code == 0, r.output
    assert "Guidance by labels:topic:0.1" in r.output and "/128 triplets answered" in r.output
    r = CliRunner().invoke(cli, [*args, "--guide", "labels:nope", "--overwrite"])
    assert r.exit_code != 0 and "no column 'nope'" in r.output
    with FaultServer() as srv:  # the dry run counts the judge's calls: triplets (+ 64 control) twice in both orders
        llm = ["--llm", "vllm:m", "--llm-base-url", srv.url, "--guide", "llm", "--guide-triplets", "100", "--dry-run"]
        both = CliRunner().invoke(cli, [*args, *llm, "-o", str(tmp_path / "d1")])
        once = CliRunner().invoke(cli, [*args, *llm, "--guide-one-order", "-o", str(tmp_path / "d2")])
        assert both.exit_code == 0 and once.exit_code == 0, both.output + once.output
        assert "at most 328 calls" in both.output and "at most 164 calls" in once.output and srv.requests == []
    meta = {"upload": "upload.csv", "columns": ["text", "topic"], "rows": 240}
    form = {"levels": "guided", "embedder": "auto", "representation": "direct", "guide": "labels:topic:0.2"}
    assert validate_run(form, meta, Choices()).guide == "labels:topic:0.2"
    with pytest.raises(ValueError, match="no column"):
        validate_run({**form, "guide": "labels:nope"}, meta, Choices())
    with pytest.raises(ValueError, match="needs a guide"):
        validate_run({**form, "guide": ""}, meta, Choices())


def styled_corpus(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Texts of 3 topics in 3 styles: MiniLM groups them by topic, the judge asks for the style."""
    rng = np.random.default_rng(seed)
    topics = ["refund money back", "password login account", "delivery parcel shipping"]
    styles = ["dude lol honestly whatever bro", "kindly respectfully dear sir madam", "urgent asap immediately now help"]
    y, z = rng.integers(0, 3, n), rng.integers(0, 3, n)
    words = [" ".join([*rng.choice(topics[a].split(), 2), *rng.choice(styles[b].split(), 5)]) for a, b in zip(y, z)]
    return pd.DataFrame({"text": words, "style": z})


def test_minilm_is_fine_tuned_saved_and_used_by_predict(tmp_path):
    """MiniLM texts: the judge's answers fine-tune a copy of the model (then the adapter) and the
    clusters follow the judge; the result folder carries the model, predict embeds with it, and a
    repeated run reuses the tuned weights."""
    df = styled_corpus()
    params = {"embedder": "minilm", "guide": "labels:style:0.1", "guide_triplets": 128, "guide_tune": True, "progress": False}
    base = Hercules([3], embedder="minilm", progress=False).fit(df)
    m = Hercules([3], **params).fit(df)
    report = m.encoder_.guidance_["triplets"]
    assert report["applied"] and report["method"] == "finetune+adapter" and not report["tune_reused"], report
    assert m.encoder_.adapter_ is not None and m.encoder_.model_id_.startswith("st:all-MiniLM-L6-v2+guided-")
    assert nmi(df["style"], m.labels_) > nmi(df["style"], base.labels_) + 0.2, (nmi(df["style"], m.labels_), report)
    m.save(tmp_path / "r")
    assert (tmp_path / "r" / "embedder" / "config.json").exists()
    loaded = Hercules.load(tmp_path / "r")
    again = loaded.encoder_.embed_texts(df.text.tolist()[:20])
    assert np.allclose(again, m.embeddings_[:20], atol=1e-4)  # new texts go through the tuned model
    assert (loaded.predict(df) == m.labels_).mean() > 0.95
    from hercules.embeddings.providers import SentenceTransformerEmbedder
    from hercules.guidance.finetune import finetune

    answers = np.array([[0, 1, 2], [3, 4, 5]])  # a killed or repeated run finds its tuned model: no second training
    first = finetune(SentenceTransformerEmbedder(), df.text.tolist(), answers, progress=False)
    again = finetune(SentenceTransformerEmbedder(), df.text.tolist(), answers, progress=False)
    assert not first.reused and again.reused and again.path == first.path and again.model_id == first.model_id


def test_fine_tune_losses_follow_the_answers():
    """Both fine-tune objectives are low when the geometry agrees with the answers and high when it contradicts
    them; the in-batch softmax never contrasts an item with itself (a repeated item stays a finite loss)."""
    import torch

    from hercules.guidance.finetune import TuneConfig, _loss

    g = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(6, 16, generator=g), dim=-1)
    far = torch.nn.functional.normalize(torch.randn(6, 16, generator=g), dim=-1)
    near = torch.nn.functional.normalize(a + 0.1 * far, dim=-1)
    idx = torch.arange(18).reshape(6, 3)
    for negatives in ("triplet", "batch"):
        config = TuneConfig(negatives=negatives)
        right, wrong = _loss(torch.stack([a, near, far], 1), idx, config), _loss(torch.stack([a, far, near], 1), idx, config)
        assert float(right) < 0.1 < 1.0 < float(wrong), (negatives, float(right), float(wrong))
    same = idx.clone()
    same[1, 2] = same[0, 0]  # the farther item of answer 1 is the anchor of answer 0
    E = torch.stack([a, near, far], 1)
    E[1, 2] = a[0]
    assert torch.isfinite(_loss(E, same, TuneConfig(negatives="batch")))
    assert float(_loss(E, same, TuneConfig(negatives="batch"))) < float(_loss(E, idx, TuneConfig(negatives="batch")))


def test_judge_order_option_reaches_the_llm_judge():
    from hercules.data.dataset import Dataset
    from hercules.llm.fake import FakeLLM
    from hercules.pipeline.guided import make_guide

    ds = Dataset("text", np.arange(3), texts=["a", "b", "c"])
    for options, expected in (({}, True), ({"judge_both_orders": False}, False)):
        guide = make_guide({"guide": "llm", "llm": FakeLLM(), "llm_options": options, "progress": False}, ds)
        assert isinstance(guide.judge, LLMJudge) and guide.judge.both_orders is expected
