"""LLM labelling: parsing, batching, retries, cache and resume, against a fault-injecting local server."""

import numpy as np
import pytest

from hercules import Hercules
from hercules.labeling.llm import label_schema, parse_labels
from hercules.llm import LLMOptions, OpenAICompatibleProvider, ResponseCache, get_llm
from tests.conftest import make_corpus
from tests.fault_server import FaultServer


def provider(server, **opts):
    return OpenAICompatibleProvider(
        "test-model", preset="vllm", base_url=server.url, options=LLMOptions(timeout=opts.pop("timeout", 5.0)), **opts
    )


def fit(llm, corpus, tmp_path, levels=(12, 4), **opts):
    opts.setdefault("cache", ResponseCache(tmp_path / "llm.sqlite"))
    opts.setdefault("backoff", 0.01)
    # these tests check transport, batching and parsing with meaningless titles ("Title L1-3"),
    # which the title check would rightly replace; it is tested in tests/test_titles.py
    opts.setdefault("verify", False)
    return Hercules(list(levels), embedder="hashing:256", progress=False, llm=llm, llm_options=opts).fit(corpus)


def test_parse_tolerates_fences_prose_and_bad_entries():
    text = (
        'Here:\n```json\n{"L1-0": {"title": "Card  arrival", "description": "Late cards."}, "L1-1": {"title": ""}, "x": 1}\n```'
    )
    got = parse_labels(text, ["L1-0", "L1-1"])
    assert list(got) == ["L1-0"] and got["L1-0"].title == "Card arrival" and got["L1-0"].source == "llm"
    assert parse_labels("no json at all", ["L1-0"]) == {}
    assert parse_labels('{"L1-0": {"title": "a", "description": "b"', ["L1-0"]) == {}
    schema = label_schema(["L1-0"])
    assert schema["required"] == ["L1-0"] and schema["properties"]["L1-0"]["properties"]["title"]["maxLength"] == 60


def test_registry_specs():
    assert get_llm("none") is None and get_llm(None) is None
    assert get_llm("fake").model_id == "fake:keywords"
    assert get_llm("ollama:llama3.2").base_url == "http://localhost:11434/v1"
    assert get_llm("gemini:gemini-2.0-flash", api_key="k").base_url.startswith("https://generativelanguage")
    with pytest.raises(ValueError, match="which model"):
        get_llm("openai")
    with pytest.raises(ValueError, match="unknown LLM"):
        get_llm("nope:x")


def test_prompt_carries_the_evidence(tmp_path):
    corpus = make_corpus()
    with FaultServer() as srv:
        m = fit(provider(srv), corpus, tmp_path)
        p1 = srv.requests[0]["messages"][-1]["content"]
        p2 = srv.requests[-1]["messages"][-1]["content"]
        assert srv.requests[0]["response_format"]["type"] == "json_schema"
    assert "Items closest to the centre" in p1 and "Distinctive keywords" in p1 and "Most similar other clusters" in p1
    assert "Subclusters:" in p2 and "Title L1-" in p2  # level 2 sees its children's LLM titles
    assert all(c.title.startswith("Title L") and c.description for t in (1, 2) for c in m.clusters(t))
    assert all(m.hierarchy_.level(1).labels[j].source == "llm" for j in range(12))


def test_retries_429_500_timeouts_and_broken_json(tmp_path):
    corpus = make_corpus()
    script = ["429", "500", "slow", "truncated", "prose", "partial", "fenced"]
    with FaultServer(script=script, slow_s=1.5) as srv:
        m = fit(provider(srv, timeout=0.5), corpus, tmp_path, batch_size=4)
    titles = [lb.title for lb in m.hierarchy_.level(1).labels]
    assert all(t.startswith("Title L1-") for t in titles), titles
    st = m.llm_stats_[0]
    assert st["retries"] >= 3 and st["failed_clusters"] == 0


def test_persistent_failure_keeps_keyword_titles_never_invents(tmp_path):
    corpus = make_corpus()
    with FaultServer(default="500") as srv:
        m = fit(provider(srv), corpus, tmp_path, retries=1)
    labels = m.hierarchy_.level(1).labels
    assert all(lb.source == "keywords" for lb in labels)
    assert m.llm_stats_[0]["failed_clusters"] == 12
    keyword_only = Hercules([12, 4], embedder="hashing:256", progress=False).fit(corpus)
    assert [lb.title for lb in labels] == [lb.title for lb in keyword_only.hierarchy_.level(1).labels]


def test_context_overflow_shrinks_the_batch(tmp_path):
    with FaultServer(default="overflow-multi") as srv:
        m = fit(provider(srv), make_corpus(), tmp_path, batch_size=8)
    assert all(lb.source == "llm" for lb in m.hierarchy_.level(1).labels)


def test_rerun_and_resume_make_no_repeated_calls(tmp_path):
    corpus = make_corpus()
    with FaultServer() as srv:
        fit(provider(srv), corpus, tmp_path)
        first = len(srv.requests)
        fit(provider(srv), corpus, tmp_path)
        assert len(srv.requests) == first  # 100% cache hits

    class Crash(RuntimeError):
        pass

    class CrashAfter(OpenAICompatibleProvider):
        calls = 0

        async def acomplete(self, messages, *, schema=None):
            CrashAfter.calls += 1
            if CrashAfter.calls == 2:
                raise Crash("power cut")
            return await super().acomplete(messages, schema=schema)

    cache = ResponseCache(tmp_path / "resume.sqlite")
    with FaultServer() as srv:
        with pytest.raises(Crash):
            fit(CrashAfter("test-model", preset="vllm", base_url=srv.url), corpus, tmp_path, cache=cache, concurrency=1)
        before = len(srv.requests)
        assert before == 1
        m = fit(provider(srv), corpus, tmp_path, cache=cache, concurrency=1)
        stats = m.llm_stats_[0]
    assert stats["cache_hits"] == 1  # the answer received before the crash is not bought again


def test_bounded_concurrency_keeps_a_server_busy(tmp_path):
    """Prompts overlap up to the limit and never beyond (wall-time gains: benchmarks/bench_llm.py)."""
    corpus = make_corpus(n_per_topic=60)
    for conc in (1, 4):
        with FaultServer(delay_s=0.2) as srv:
            fit(provider(srv), corpus, tmp_path, levels=(32,), batch_size=2, concurrency=conc, cache=False)
            assert srv.max_in_flight == conc


def test_duplicate_sibling_titles_are_disambiguated(tmp_path):
    from hercules.llm.fake import FakeLLM

    class SameTitle(FakeLLM):
        async def acomplete(self, messages, *, schema=None):
            r = await super().acomplete(messages, schema=schema)
            if "were all titled" not in messages[-1]["content"]:
                import json

                r.text = json.dumps({k: {"title": "Same thing", "description": "d"} for k in json.loads(r.text)})
            return r

    m = fit(SameTitle(), make_corpus(), tmp_path, levels=(6,), cache=False)
    titles = [c.title for c in m.clusters(1)]
    assert len(set(titles)) > 1 and "Same thing" not in titles


def test_dry_run_estimate_makes_no_calls(corpus):
    m = Hercules([12, 4], embedder="hashing:256", progress=False).fit(corpus)
    with FaultServer() as srv:
        est = m.llm_cost_estimate(provider(srv), batch_size=4)
        assert srv.requests == []
    assert list(est.calls) == [3, 1] and (est.prompt_tokens > 0).all()


def test_runs_inside_a_running_event_loop(tmp_path):
    import asyncio

    async def main():
        return fit("fake", make_corpus(), tmp_path, levels=(6,), cache=False)

    m = asyncio.run(main())
    assert all(lb.source == "llm" for lb in m.hierarchy_.level(1).labels)
    assert np.all(m.hierarchy_.level(1).sizes > 0)


def test_parent_copying_a_child_title_is_asked_again(tmp_path):
    import json

    from hercules.llm.fake import FakeLLM

    class CopyChild(FakeLLM):
        async def acomplete(self, messages, *, schema=None):
            r = await super().acomplete(messages, schema=schema)
            prompt = messages[-1]["content"]
            answer = json.loads(r.text)
            if "was given the title of one of its subclusters" in prompt:
                r.text = json.dumps({k: {"title": "All of " + v["title"], "description": "d"} for k, v in answer.items()})
            elif "Subclusters:" in prompt:
                first_child = prompt.split('Subclusters:\n- "')[1].split('"')[0]
                r.text = json.dumps({k: {"title": first_child, "description": "d"} for k in answer})
            return r

    m = fit(CopyChild(), make_corpus(), tmp_path, levels=(12, 3), cache=False)
    for c in m.clusters(2):
        if len(c.children) > 1:
            assert c.title not in {k.title for k in c.children}


def test_numeric_prompt_shows_distinctive_statistics_with_units(tmp_path):
    from sklearn.datasets import load_wine

    X = load_wine(as_frame=True).data
    meta = {"proline": {"name": "Proline", "unit": "mg/L", "description": "amino acid"}}
    with FaultServer() as srv:
        Hercules([6], progress=False, numeric_metadata=meta, llm=provider(srv), llm_options={"cache": False}).fit(X)
        prompt = srv.requests[0]["messages"][-1]["content"]
    assert "Most distinctive variables (original scale)" in prompt
    assert "Proline (mg/L): mean=" in prompt and "# amino acid" in prompt and "range" in prompt


@pytest.mark.parametrize("strategy", ["centroid_closest", "random", "diverse"])
def test_sample_strategies(strategy):
    from hercules.labeling.base import LevelContext, representative_items

    corpus = make_corpus()
    m = Hercules([6], embedder="hashing:256", progress=False).fit(corpus)
    ctx = LevelContext(1, m.dataset_, m.labels_, 6, m.embeddings_, m.hierarchy_.level(1).centroids)
    reps = representative_items(ctx, 4, strategy)
    assert all(len(r) == 4 and (m.labels_[r] == j).all() for j, r in enumerate(reps))
    if strategy == "diverse":  # spread: mean pairwise distance beats the closest-to-centre picks
        close = representative_items(ctx, 4)

        def spread(idx):
            V = m.embeddings_[idx]
            return np.mean([np.linalg.norm(a - b) for a in V for b in V])

        assert np.mean([spread(r) for r in reps]) > np.mean([spread(r) for r in close])


def test_llm_descriptions_of_every_item_in_description_mode(tmp_path):
    corpus = make_corpus(n_per_topic=20)  # 120 items -> 8 prompts of 16
    # 3 prompts meet a 500 and have no retries left: their items keep snippets (a sick server is
    # not helped by splitting the prompt, so they are not asked again one by one)
    with FaultServer(script=["500"] * 3, default="ok") as srv:
        m = Hercules(
            [6],
            representation="description",
            embedder="hashing:256",
            progress=False,
            llm=provider(srv),
            llm_l0_descriptions=True,
            llm_options={"cache": False, "retries": 0},
        ).fit(corpus)
        item_prompts = [r for r in srv.requests if "### Item" in r["messages"][-1]["content"]]
    assert len(item_prompts) >= 8
    l0 = m.llm_stats_[0]
    assert l0["level"] == 0 and l0["clusters"] == 120
    # items whose calls failed keep their snippet: never a failure message embedded
    assert l0["failed_clusters"] in (40, 48)  # three prompts of 16, or two and the last one of 8
    assert m.levels_ == [6]


def test_json_schema_is_sent_only_where_the_options_or_backend_default_want_it(tmp_path):
    from hercules.llm.fake import FakeLLM
    from hercules.llm.local_server import LocalServerProvider

    class Recording(FakeLLM):
        async def acomplete(self, messages, *, schema=None):
            self.schemas = [*getattr(self, "schemas", []), schema]
            return await super().acomplete(messages, schema=schema)

    corpus = make_corpus()
    on, off = Recording(), Recording(options=LLMOptions(json_schema=False))
    fit(on, corpus, tmp_path, levels=(6,), cache=False)
    fit(off, corpus, tmp_path, levels=(6,), cache=False)
    assert on.schemas and all(s is not None and s["required"] for s in on.schemas)
    assert off.schemas and all(s is None for s in off.schemas)  # the parser reads the plain JSON answer
    assert LocalServerProvider("smollm2").use_json_schema()  # on by default: its length limits keep answers short
    assert not LocalServerProvider("smollm2", options=LLMOptions(json_schema=False)).use_json_schema()
