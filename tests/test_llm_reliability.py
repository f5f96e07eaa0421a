"""Nothing hung, nothing lost (issue 10): capped waits, no batch splitting for a sick server, a
circuit breaker per level, a per-call timeout, loud fallbacks, permanent errors that stop the
run, and cache keys that tell servers apart. Runs the labeler on a hand-built level, so these
tests need neither an embedder nor the estimator."""

from __future__ import annotations

import json
import logging
import re
import time

import numpy as np
import pytest

from hercules.data import prepare
from hercules.labeling.base import LevelContext, LevelLabels
from hercules.labeling.llm import LLMLabeler, LLMLabelerOptions
from hercules.labeling.llm.prompt import answer_tokens
from hercules.llm import LLMOptions, OpenAICompatibleProvider, PermanentLLMError, ResponseCache
from tests.conftest import TOPICS, make_corpus
from tests.fault_server import FaultServer


def level_ctx(n_clusters: int = 12, n_per_topic: int = 20) -> LevelContext:
    """A level of ``n_clusters`` clusters over the synthetic corpus: by topic, topics split by row number."""
    corpus = make_corpus(n_per_topic=n_per_topic)
    ds = prepare(corpus[["text"]])
    topics = corpus["topic"].map({t: i for i, t in enumerate(TOPICS)}).to_numpy()
    per = -(-n_clusters // len(TOPICS))  # clusters per topic
    labels = (topics * per + np.arange(len(corpus)) % per) % n_clusters
    vocab = sorted({w for words in TOPICS.values() for w in words.split()})
    X = np.array([[t.count(w) for w in vocab] for t in corpus["text"]], dtype=np.float32)
    centroids = np.stack([X[labels == j].mean(axis=0) for j in range(n_clusters)])
    return LevelContext(1, ds, labels.astype(np.int64), n_clusters, X, centroids)


def provider(srv: FaultServer, model: str = "test-model", timeout: float = 5.0) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(model, preset="vllm", base_url=srv.url, options=LLMOptions(timeout=timeout))


def labeler(llm, **opts) -> LLMLabeler:
    opts.setdefault("cache", False)
    opts.setdefault("backoff", 0.01)
    opts.setdefault("progress", False)
    return LLMLabeler(llm, **opts)


def test_retry_after_is_capped_at_max_wait():
    ctx = level_ctx(4)
    with FaultServer(script=["429-hour"]) as srv:
        t0 = time.perf_counter()
        out = labeler(provider(srv), max_wait=0.2).label_level(ctx)
        elapsed = time.perf_counter() - t0
    assert elapsed < 10, elapsed  # not an hour
    assert all(lb.source == "llm" for lb in out.labels)
    assert out.stats["retries"] == 1


def test_spent_retries_on_5xx_do_not_split_the_batch():
    ctx = level_ctx(8)
    with FaultServer(default="500") as srv:
        out = labeler(provider(srv), batch_size=8, retries=2, breaker_failures=100).label_level(ctx)
        assert len(srv.requests) == 3  # one prompt, three attempts: no halves, no singles
    assert all(lb.source == "keywords" for lb in out.labels)
    assert out.stats["failed_clusters"] == 8 and out.stats["failed_calls"] == 3


def test_server_down_for_a_whole_level_makes_a_bounded_number_of_requests(caplog):
    ctx = level_ctx(24, n_per_topic=40)
    with FaultServer(default="500") as srv, caplog.at_level(logging.WARNING):
        out = labeler(provider(srv), batch_size=2, retries=3, breaker_failures=5, concurrency=2).label_level(ctx)
        n = len(srv.requests)
    # 12 prompts x 4 attempts would be 48 (and splitting made it hundreds); the breaker stops at 5,
    # plus whatever was already in flight
    assert 5 <= n <= 5 + 2, n
    assert out.stats["breaker_open"] and out.stats["failed_clusters"] == 24
    assert all(lb.source == "keywords" for lb in out.labels)
    text = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "5 LLM calls failed in a row" in text and "keyword titles" in text


def test_timeout_option_overrides_the_providers_timeout():
    ctx = level_ctx(4)
    with FaultServer(script=["slow"], slow_s=3.0) as srv:
        llm = provider(srv, timeout=60.0)
        t0 = time.perf_counter()
        out = labeler(llm, timeout=0.3).label_level(ctx)
        elapsed = time.perf_counter() - t0
    assert elapsed < 2.5, elapsed
    assert all(lb.source == "llm" for lb in out.labels) and out.stats["retries"] == 1
    assert llm.options.timeout == 60.0  # the user's provider is not changed


def test_keyword_titles_kept_are_a_warning(caplog):
    ctx = level_ctx(6)
    with FaultServer(script=["500"], default="ok") as srv, caplog.at_level(logging.INFO):
        out = labeler(provider(srv), batch_size=3, retries=0).label_level(ctx)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert out.stats["failed_clusters"] == 3
    assert any("level 1: 3 of 6 clusters keep their keyword titles" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("fault", "words"),
    [("401", "Incorrect API key"), ("404", "does not exist"), ("400", "Invalid value")],
)
def test_permanent_errors_stop_the_run_at_the_first_call(fault, words):
    ctx = level_ctx(12)
    with FaultServer(default=fault) as srv:
        with pytest.raises(PermanentLLMError, match=words) as exc:
            labeler(provider(srv), batch_size=2, concurrency=4).label_level(ctx)
        assert len(srv.requests) == 1
    message = str(exc.value)
    assert "\n" not in message and f"HTTP {fault}" in message and srv.url in message


def test_permanent_error_stops_the_captioner_too(tmp_path):
    from PIL import Image

    from hercules.llm.captioning import VisionCaptioner

    paths = []
    for i in range(4):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", (8, 8), (60 * i, 0, 0)).save(paths[-1])
    with FaultServer(default="401") as srv:
        cap = VisionCaptioner(provider(srv), cache=False, concurrency=4)
        with pytest.raises(PermanentLLMError, match="401"):
            cap.caption(paths)
        assert len(srv.requests) == 1


def test_captioner_caps_retry_after_and_stops_when_the_server_is_down(tmp_path, caplog):
    from PIL import Image

    from hercules.llm.captioning import VisionCaptioner

    paths = []
    for i in range(12):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(paths[-1])
    with FaultServer(script=["429-hour"]) as srv:
        t0 = time.perf_counter()
        caps = VisionCaptioner(provider(srv), cache=False, max_wait=0.1).caption(paths[:2])
        assert time.perf_counter() - t0 < 10 and all(caps)
    with FaultServer(default="500") as srv, caplog.at_level(logging.WARNING):
        caps = VisionCaptioner(provider(srv), cache=False, backoff=0.01, breaker_failures=4, concurrency=2).caption(paths)
        assert caps == [None] * 12 and len(srv.requests) <= 4 + 2
    assert any("12 of 12 images have no caption" in r.getMessage() for r in caplog.records)


def test_cache_key_includes_the_servers_address(tmp_path):
    ctx = level_ctx(4)
    cache = ResponseCache(tmp_path / "llm.sqlite")
    with FaultServer(title_prefix="Alpha") as a, FaultServer(title_prefix="Beta") as b:
        first = labeler(provider(a, "qwen"), cache=cache).label_level(ctx)
        second = labeler(provider(b, "qwen"), cache=cache).label_level(ctx)
        again = labeler(provider(a, "qwen"), cache=cache).label_level(ctx)
        assert len(b.requests) == 1 and len(a.requests) == 1  # B asked; A's re-run all cached
    assert all(lb.title.startswith("Alpha") for lb in first.labels)
    assert all(lb.title.startswith("Beta") for lb in second.labels)
    assert again.stats["calls"] == 0 and again.stats["cache_hits"] == 1


def test_options_are_validated_with_a_clear_message():
    from hercules.llm.fake import FakeLLM

    with pytest.raises(ValueError, match=r"unknown LLM option 'batchsize' \(did you mean 'batch_size'\?\).*max_wait"):
        LLMLabeler(FakeLLM(), batchsize=3)
    with pytest.raises(ValueError, match="batch_size"):
        LLMLabeler(FakeLLM(), batch_size=0)
    with pytest.raises(ValueError, match="sample_strategy"):
        LLMLabeler(FakeLLM(), sample_strategy="nearest")
    with pytest.raises(ValueError, match="batchsize"):  # what the estimator calls on llm_options
        LLMLabelerOptions.model_validate({"batchsize": 3})
    opts = LLMLabelerOptions.model_validate({"timeout": 30, "max_wait": 5})
    lab = LLMLabeler(FakeLLM(), opts, batch_size=2)
    assert (lab.options.timeout, lab.options.max_wait, lab.options.batch_size) == (30, 5, 2)
    assert lab.llm.options.timeout == 30


def test_stats_are_returned_per_level_not_accumulated():
    from hercules.llm.fake import FakeLLM

    ctx = level_ctx(6)
    lab = labeler(FakeLLM(), batch_size=3)
    one, two = lab.label_level(ctx), lab.label_level(ctx)
    assert isinstance(one, LevelLabels) and len(one.labels) == 6
    drop = {"wall_s", "first_pass_s", "disambiguate_s", "verify_s"}  # times
    assert {k: v for k, v in one.stats.items() if k not in drop} == {k: v for k, v in two.stats.items() if k not in drop}
    assert one.stats["calls"] >= 2 and one.stats["level"] == 1
    assert not hasattr(lab, "stats_")


def test_plan_returns_its_blocks_and_shortens_an_oversized_cluster(caplog):
    from hercules.llm.fake import FakeLLM

    ctx = level_ctx(3, n_per_topic=10)
    llm = FakeLLM()
    full = LLMLabeler(llm, samples=8, sample_chars=400, cache=False).plan(ctx)
    assert len(full.blocks) == 3 and sorted(j for b in full.batches for j in b) == [0, 1, 2] and full.shortened == []
    need = max(llm.count_tokens(b) for b in full.blocks)
    llm.context_window = int((need + 400 + 90) / 0.9) - 20  # the largest block no longer fits alone
    with caplog.at_level(logging.INFO):
        plan = LLMLabeler(llm, samples=8, sample_chars=400, cache=False).plan(ctx)
    assert plan.shortened
    j = plan.shortened[0]
    assert plan.blocks[j].count('\n- "') < full.blocks[j].count('\n- "')  # fewer samples really shown
    assert any("shortened" in r.getMessage() for r in caplog.records)


def test_prompt_log_records_every_call(tmp_path):
    import json

    ctx = level_ctx(4)
    log_path = tmp_path / "prompts.jsonl"
    with FaultServer(script=["500"]) as srv:
        labeler(provider(srv), log_path=str(log_path)).label_level(ctx)
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [r["error"] is None for r in records] == [False, True]
    assert records[1]["valid"] == 4 and sorted(records[1]["ids"]) == ["L1-0", "L1-1", "L1-2", "L1-3"]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_a_rambling_answer_is_cut_at_what_its_clusters_need_and_not_asked_again(batch_size):
    """Issue 11: a small model that repeats itself ran a call to the provider's 1024 tokens, and the
    runner asked the same prompt again (rambling the same way): minutes per cluster on a CPU. Each
    call is capped at what its clusters need, a cut answer is not asked again, and only the rambling
    cluster keeps its keyword title, counted."""
    ctx = level_ctx(6)
    with FaultServer(runaway_ids={"L1-2"}, token_s=0.002) as srv:
        t0 = time.perf_counter()
        opts = {"batch_size": batch_size, "candidates": 1, "verify": False, "disambiguate": False}  # one title per answer
        out = labeler(provider(srv), **opts).label_level(ctx)
        elapsed = time.perf_counter() - t0
        reqs = list(srv.requests)
    assert answer_tokens(batch_size) < LLMOptions().max_tokens
    assert max(r["max_tokens"] for r in reqs) == answer_tokens(batch_size)
    alone = [r for r in reqs if re.findall(r"### Cluster (\S+)", r["messages"][-1]["content"]) == ["L1-2"]]
    assert len(alone) == 1 and alone[0]["max_tokens"] == answer_tokens(1)  # asked alone once, never again
    assert [lb.source for lb in out.labels] == ["llm", "llm", "keywords", "llm", "llm", "llm"]
    assert out.stats["failed_clusters"] == 1 and out.stats["truncated"] >= 1
    assert elapsed < 1024 * 0.002 * 2, elapsed  # a cut answer costs its cap, not the provider's 1024 tokens


def test_every_call_of_a_level_is_capped_and_its_answer_survives_a_cap_change(tmp_path, monkeypatch):
    """The cap is not in the cache key: an answer cut at its cap is never cached, so a cached answer
    parses the same under any cap, and answers cached before the per-call cap existed still hit."""
    from hercules.labeling.llm import labeler as labeler_module
    from hercules.llm.fake import FakeLLM

    ctx = level_ctx(8)
    fake = FakeLLM()
    cache = ResponseCache(tmp_path / "llm.sqlite")
    out = labeler(fake, batch_size=4, candidates=1, cache=cache, verify=False).label_level(ctx)  # one title per answer
    assert fake.max_tokens_seen and set(fake.max_tokens_seen) == {answer_tokens(4)}
    assert all(lb.source == "llm" for lb in out.labels)
    monkeypatch.setattr(labeler_module, "answer_tokens", lambda n, k=1: 3 * answer_tokens(n, k))  # another cap
    again = FakeLLM()
    labeler(again, batch_size=4, candidates=1, cache=cache, verify=False).label_level(ctx)
    assert again.calls == 0  # same prompts, another cap: every answer from the cache


def test_an_answer_cut_at_its_cap_is_never_cached(tmp_path):
    ctx = level_ctx(6)
    cache = ResponseCache(tmp_path / "llm.sqlite")
    with FaultServer(runaway_ids={"L1-2"}, token_s=0.0) as srv:
        labeler(provider(srv), batch_size=1, cache=cache, verify=False, disambiguate=False).label_level(ctx)
        first = len(srv.requests)
        out = labeler(provider(srv), batch_size=1, cache=cache, verify=False, disambiguate=False).label_level(ctx)
        asked = [re.findall(r"### Cluster (\S+)", r["messages"][-1]["content"]) for r in srv.requests[first:]]
    assert len(cache) == 5  # the five clusters that answered; the cut one is not stored
    assert asked == [["L1-2"]]  # the re-run asks only the cluster whose answer was cut
    assert out.stats["cache_hits"] == 5 and out.labels[2].source == "keywords"


def test_duplicate_groups_are_asked_again_concurrently_not_one_after_another():
    """Issue 11: at a 300-cluster level a small model leaves dozens of duplicate pairs; asked one
    pair at a time they kept one server slot busy for minutes while the others idled."""
    import asyncio

    from hercules.llm.fake import FakeLLM

    class Pairs(FakeLLM):
        in_flight = most = 0

        async def acomplete(self, messages, *, schema=None):
            Pairs.in_flight += 1
            Pairs.most = max(Pairs.most, Pairs.in_flight) if "were all titled" in messages[-1]["content"] else Pairs.most
            await asyncio.sleep(0.05)
            Pairs.in_flight -= 1
            r = await super().acomplete(messages, schema=schema)
            if "were all titled" not in messages[-1]["content"]:  # clusters 2i and 2i+1 share a title
                r.text = json.dumps(
                    {k: {"title": f"Pair {int(k.split('-')[1]) // 2}", "description": "d"} for k in json.loads(r.text)}
                )
            return r

    ctx = level_ctx(12)
    out = labeler(Pairs(), batch_size=1, verify=False, concurrency=4).label_level(ctx)
    assert Pairs.most >= 3, Pairs.most  # the 6 pairs were in flight together, up to the concurrency
    assert not any(lb.title.startswith("Pair ") for lb in out.labels)
