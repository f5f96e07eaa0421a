"""The LLM labeler: one level at a time, plan the prompts, get every batch answered, merge,
ask again where titles collide, and return the labels with that level's accounting.

Nothing is kept on the labeler between calls but its options and resources (provider, cache,
prompt log): a labeler reused across fits starts every level from zero.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hercules.common.aio import run_sync
from hercules.hierarchy import ClusterLabel, cluster_id
from hercules.labeling.base import LevelContext, LevelLabels
from hercules.labeling.keywords import KeywordLabeler, snippet
from hercules.labeling.llm.anchors import anchor_terms, anchor_title
from hercules.labeling.llm.batching import Plan, plan_batches, solve
from hercules.labeling.llm.disambiguate import child_titles, disambiguate, forbidden_titles, parents_copying_a_child
from hercules.labeling.llm.evidence import Detail, Evidence, principal_order
from hercules.labeling.llm.groups import NEIGHBOURS_NOTE, neighbour_groups
from hercules.labeling.llm.options import LLMLabelerOptions
from hercules.labeling.llm.prompt import (
    PER_ANSWER_TOKENS,
    PER_TITLE_TOKENS,
    answer_tokens,
    cluster_messages,
    item_messages,
    label_schema,
    parse_candidates,
    parse_labels,
    repair_messages,
)
from hercules.labeling.llm.verify import (
    TitleSpace,
    choose_candidates,
    sharpen_generic_siblings,
    title_space,
    verify_and_repair,
)
from hercules.llm.base import ContextOverflowError, LLMProvider, TransientLLMError
from hercules.llm.cache import PromptLog
from hercules.llm.ratelimit import RateLimiter
from hercules.llm.runner import CallStats, LLMRunner, first_then_rest, gather_all

log = logging.getLogger(__name__)


class LLMLabeler:
    """Labels clusters with an :class:`~hercules.llm.LLMProvider`.

    Options: an :class:`LLMLabelerOptions` and/or its fields as keyword arguments
    (``LLMLabeler(llm, batch_size=4, timeout=30)``); unknown names raise ValueError.
    """

    def __init__(self, llm: LLMProvider, options: LLMLabelerOptions | dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.options = LLMLabelerOptions.parse(options, **kwargs)
        o = self.options
        self.llm = llm if o.timeout is None else llm.with_options(timeout=o.timeout)
        self.cache = o.response_cache()
        self.prompt_log = PromptLog(o.log_path) if o.log_path else None
        self.keywords = KeywordLabeler()
        self.limiter = RateLimiter(o.requests_per_minute, o.tokens_per_minute)  # one for every level of the run

    # ---------------------------------------------------------------- planning
    def plan(self, ctx: LevelContext, fallback: list[ClusterLabel] | None = None) -> Plan:
        """Evidence blocks of every cluster and the batches whose prompts fit the token budget."""
        o = self.options
        fallback = fallback or self._keyword_labels(ctx)
        anchors = anchor_terms(ctx, fallback) if o.anchor else None
        # asked for in the prompt at level 1, and at parent levels only if told (the anchor stays a fallback title)
        shown = anchors if ctx.child_labels is None or o.anchor_parents else None
        evidence = Evidence(ctx, fallback, o.samples, o.sample_strategy, shown)
        detail = Detail(samples=o.samples, chars=o.sample_chars, children=o.child_samples)
        order = principal_order(ctx)
        use_groups = o.grouping == "neighbours" and ctx.centroids is not None
        groups = neighbour_groups(ctx.centroids, o.batch_size, order) if use_groups else [order]
        plan = plan_batches(evidence, groups, self.llm, o.batch_size, detail, o.examples)
        plan.members, plan.anchors = evidence.member_texts(o.sample_chars), anchors
        plan.anchor_shown = shown is not None
        return plan

    def estimate(self, ctx: LevelContext) -> dict[str, int]:
        """Calls and prompt tokens this level would cost (``--dry-run``); nothing is sent."""
        o = self.options
        plan = self.plan(ctx)
        tokens = 0
        per_answer = PER_ANSWER_TOKENS + PER_TITLE_TOKENS * (o.candidates - 1)
        for b in plan.batches:
            msgs = first_pass_messages(ctx, plan, o, b)
            tokens += sum(self.llm.count_tokens(m["content"]) for m in msgs)
        return {
            "level": ctx.level,
            "clusters": ctx.n_clusters,
            "calls": len(plan.batches),
            "prompt_tokens": tokens,
            "max_completion_tokens": sum(per_answer * len(b) for b in plan.batches),
        }

    # ---------------------------------------------------------------- levels
    def label_level(self, ctx: LevelContext) -> LevelLabels:
        """LLM labels of every cluster (keyword labels where no usable answer came), with the
        level's accounting in ``stats``."""
        t0 = time.perf_counter()
        sharpened = 0
        if ctx.child_labels is not None and ctx.child_parent is not None:  # siblings are known now: before the prompts
            sharpened = sharpen_generic_siblings(ctx.child_labels, ctx.child_parent)
        fallback = self._keyword_labels(ctx)
        plan = self.plan(ctx, fallback)
        labels, failed, calls, checked = run_sync(self._label_async(ctx, fallback, plan))
        stats = _stats(ctx.level, ctx.n_clusters, calls, failed, t0, batch_sizes=[len(b) for b in plan.batches], **checked)
        stats["shortened"] = len(plan.shortened)
        stats["children_sharpened"] = sharpened
        _report(stats, "clusters", "keep their keyword titles")
        return LevelLabels(labels, stats)

    async def _label_async(
        self, ctx: LevelContext, fallback: list[ClusterLabel], plan: Plan
    ) -> tuple[list[ClusterLabel], int, CallStats, dict[str, Any]]:
        t0 = time.perf_counter()
        runner = self._runner(f"level {ctx.level} labels", "the remaining clusters keep their keyword titles")
        calls = _LevelCalls(ctx, plan, runner, self.llm.use_json_schema(), self.options)
        bar = tqdm(
            total=ctx.n_clusters,
            desc=f"L{ctx.level} LLM labels",
            unit="cluster",
            disable=not self.options.progress or len(plan.batches) < 2,
        )

        async def one(batch: list[int]) -> dict[int, ClusterLabel]:
            got = await solve(batch, calls.ask, calls.name)
            bar.update(len(batch))
            return got

        try:
            got: dict[int, ClusterLabel] = {}
            for part in await first_then_rest(one, plan.batches):
                got.update(part)
            labels = calls.labels
            for j in range(ctx.n_clusters):
                if j in got:
                    got[j].keywords = fallback[j].keywords
                labels.append(got.get(j, fallback[j]))  # no answer: the keyword label, source "keywords"
            o, t1 = self.options, time.perf_counter()
            space = title_space(ctx) if o.verify or o.candidates > 1 else None
            forbidden = forbidden_titles(ctx, plan.members)
            chosen, space = _choose(space, labels, calls.alternatives, forbidden)  # duplicates are judged on chosen titles
            if o.disambiguate and not runner.breaker.is_open:
                await disambiguate(ctx, labels, calls.ask_again, copied=space is None or not o.verify)
            t2 = time.perf_counter()
            checked = await self._verify(space, ctx, labels, fallback, calls, forbidden)
            checked.update(
                candidates_chosen=chosen, first_pass_s=t1 - t0, disambiguate_s=t2 - t1, verify_s=time.perf_counter() - t2
            )
        finally:
            bar.close()
            await self.llm.aclose()  # HTTP clients are bound to this event loop
        return labels, ctx.n_clusters - len(got), runner.stats, checked

    async def _verify(
        self,
        space: TitleSpace | None,
        ctx: LevelContext,
        labels: list[ClusterLabel],
        fallback: list[ClusterLabel],
        calls: _LevelCalls,
        forbidden: dict[int, set[str]],
    ) -> dict[str, Any]:
        """Repair titles that do not pick out their cluster, or copy a subcluster's title or one of the
        cluster's items (:mod:`.verify`); nothing without a title space."""
        o = self.options
        if space is None or not o.verify or calls.runner.breaker.is_open:
            return {}
        copied = parents_copying_a_child(ctx, labels)
        limit = int(np.ceil(o.repair_limit * ctx.n_clusters))
        if o.repair_limit > 0:  # a small level's few titles are each read; asking 3 again costs little
            limit = max(limit, min(MIN_REPAIRS, ctx.n_clusters))
        anchors = calls.plan.anchors or []
        extra = {j: [anchor_title(a)] for j, a in enumerate(anchors) if a}
        try:
            return await verify_and_repair(
                space, labels, fallback, calls.repair, o.contrast, child_titles(ctx, copied), limit, forbidden, extra
            )
        except ValueError as e:  # titles and items in different spaces
            log.info("level %d: titles not verified: %s", ctx.level, e)
            return {}

    # ---------------------------------------------------------------- level 0
    def describe_items(self, dataset: Any, item_batch_size: int = 16, topic_seed: str | None = None) -> LevelLabels:
        """An LLM title and description for every item (``llm_l0_descriptions``), with level 0's
        accounting in ``stats``. Batched and concurrent like cluster labels; an item whose answer
        keeps failing gets ``None`` (the caller keeps its text snippet: a failure message is never
        embedded)."""
        texts = list(dataset.item_texts())  # texts held elsewhere (Ray): read once, block by block
        n = len(texts)
        chars = 4 * self.options.sample_chars
        batches = [list(range(s, min(s + item_batch_size, n))) for s in range(0, n, item_batch_size)]
        t0 = time.perf_counter()

        async def main() -> tuple[dict[int, ClusterLabel], CallStats]:
            runner = self._runner("level 0 item descriptions", "the remaining items keep their text snippets")
            schema_ok = self.llm.use_json_schema()

            async def ask(idx: list[int]) -> dict[int, ClusterLabel]:
                ids = [f"I{i}" for i in idx]
                msgs = item_messages(dataset.modality, ids, [snippet(texts[i], chars) for i in idx], topic_seed)
                schema = label_schema(ids) if schema_ok else None
                got = await runner.call(
                    msgs,
                    lambda t: parse_labels(t, ids),
                    schema=schema,
                    ids=ids,
                    retry_empty=len(ids) == 1,
                    max_tokens=answer_tokens(len(ids)),
                )
                return {i: got[c] for i, c in zip(idx, ids) if c in got}

            try:
                parts = await first_then_rest(lambda b: solve(b, ask, lambda i: f"item {i}"), batches)
            finally:
                await self.llm.aclose()
            return {i: lab for p in parts for i, lab in p.items()}, runner.stats

        got, calls = run_sync(main())
        stats = _stats(0, n, calls, n - len(got), t0, batch_sizes=[len(b) for b in batches])
        _report(stats, "items", "keep their text snippet as description")
        return LevelLabels([got.get(i) for i in range(n)], stats)  # type: ignore[misc]  # None: no LLM description

    # ---------------------------------------------------------------- helpers
    def _runner(self, what: str, on_breaker: str) -> LLMRunner:
        o = self.options
        return LLMRunner(
            self.llm,
            o.retry_policy(),
            what=what,
            concurrency=o.concurrency,
            cache=self.cache,
            prompt_log=self.prompt_log,
            breaker_failures=o.breaker_failures,
            on_breaker=on_breaker,
            limiter=self.limiter,
        )

    def _keyword_labels(self, ctx: LevelContext) -> list[ClusterLabel]:
        out = self.keywords.label_level(ctx)
        return list(out.labels if isinstance(out, LevelLabels) else out)


class _LevelCalls:
    """How one level asks: the messages of a batch, the schema, the parse; lives for one level."""

    def __init__(self, ctx: LevelContext, plan: Plan, runner: LLMRunner, use_schema: bool, options: LLMLabelerOptions) -> None:
        self.ctx, self.plan, self.runner, self.use_schema, self.options = ctx, plan, runner, use_schema, options
        self.alternatives: dict[int, list[str]] = {}  # candidate titles of each answered cluster
        self.labels: list[ClusterLabel] = []  # the level's labels once merged (what a repair contrasts)

    def name(self, j: int) -> str:
        return f"cluster {cluster_id(self.ctx.level, j)}"

    async def ask(self, batch: list[int], note: str | None = None) -> dict[int, ClusterLabel]:
        ids = [cluster_id(self.ctx.level, j) for j in batch]
        n = self.options.candidates if note is None else 1
        if note is None and len(batch) > 1 and self.options.grouping == "neighbours":
            note = NEIGHBOURS_NOTE
        o = self.options
        msgs = first_pass_messages(self.ctx, self.plan, o, batch, note, n)
        schema = label_schema(ids, n, o.description_words) if self.use_schema else None
        got = await self.runner.call(
            msgs,
            lambda t: parse_candidates(t, ids),
            schema=schema,
            ids=ids,
            retry_empty=len(ids) == 1,
            max_tokens=answer_tokens(len(ids), n),
        )
        out = {}
        for j, c in zip(batch, ids):
            if c in got:
                titles, desc = got[c]
                self.alternatives[j] = titles
                out[j] = ClusterLabel(title=titles[0], description=desc, source="llm")
        return out

    async def repair(self, j: int, others: list[int], why: str = "confused") -> tuple[list[str], str] | None:
        """Cluster ``j`` asked alone, next to the ``others`` its title was closer to; ``why``: what was
        wrong with its title (:data:`.prompt.WHY`)."""
        level, labels = self.ctx.level, self.labels
        cid = cluster_id(level, j)
        contrast = [(cluster_id(level, o), labels[o].title, self.plan.blocks[o]) for o in others]
        n = self.options.repair_titles
        words = self.options.description_words
        msgs = repair_messages(self.ctx, cid, labels[j].title, self.plan.blocks[j], contrast, n, why, words)
        schema = label_schema([cid], n, words) if self.use_schema else None
        try:
            got = await self.runner.call(
                msgs, lambda t: parse_candidates(t, [cid]), schema=schema, ids=[cid], max_tokens=answer_tokens(1, n)
            )
        except (ContextOverflowError, TransientLLMError):
            return None
        return got.get(cid)

    async def ask_again(self, which: list[int], note: str) -> dict[int, ClusterLabel]:
        """A second opinion, in prompts of at most ``batch_size`` clusters asked concurrently; where it
        cannot be had, the first answers stand."""

        async def one(part: list[int]) -> dict[int, ClusterLabel]:
            try:
                return await self.ask(part, note)
            except (ContextOverflowError, TransientLLMError):
                return {}

        size = max(self.options.batch_size, 4)  # a small group of duplicates stays together
        parts = [which[i : i + size] for i in range(0, len(which), size)]
        return {j: lab for got in await gather_all(one, parts) for j, lab in got.items()}


def first_pass_messages(
    ctx: LevelContext, plan: Plan, o: LLMLabelerOptions, batch: list[int], note: str | None = None, n: int | None = None
) -> list[dict[str, str]]:
    """The messages asking for the titles of ``batch`` as ``plan`` shows them (``n`` candidates: the options')."""
    ids, blocks = [cluster_id(ctx.level, j) for j in batch], [plan.blocks[j] for j in batch]
    n_titles = o.candidates if n is None else n
    return cluster_messages(ctx, ids, blocks, note, n_titles, plan.anchor_shown, o.description_words, example=o.examples)


#: Titles a level may ask again at least (when repairs are on): 10% of a top level of 10 is one.
MIN_REPAIRS = 3


def _choose(
    space: TitleSpace | None, labels: list[ClusterLabel], alternatives: dict[int, list[str]], forbidden: dict[int, set[str]]
) -> tuple[int, TitleSpace | None]:
    """Each cluster's best candidate title (:func:`.verify.choose_candidates`): (how many changed, the space,
    or None where titles cannot be embedded next to the items)."""
    if space is None:
        return 0, None
    try:
        return choose_candidates(space, labels, alternatives, forbidden), space
    except ValueError as e:  # titles and items in different spaces
        log.info("titles not checked: %s", e)
        return 0, None


def _stats(level: int, n: int, calls: CallStats, failed: int, t0: float, **extra: Any) -> dict[str, Any]:
    """One level's accounting as a plain dict (what ``Hercules.llm_stats_`` lists)."""
    return {
        "level": level,
        "clusters": n,
        **asdict(calls),
        "failed_clusters": failed,
        "wall_s": time.perf_counter() - t0,
        **extra,
    }


def _report(stats: dict[str, Any], what: str, consequence: str) -> None:
    """INFO with the costs; a WARNING whenever anything went without an LLM answer."""
    log.info(
        "level %d: %d %s, %d calls (%d cached), %d+%d tokens, %d failed, %.1f s",
        stats["level"],
        stats["clusters"],
        what,
        stats["calls"],
        stats["cache_hits"],
        stats["prompt_tokens"],
        stats["completion_tokens"],
        stats["failed_clusters"],
        stats["wall_s"],
    )
    if stats["failed_clusters"]:
        why = "the LLM kept failing and the level stopped calling it" if stats["breaker_open"] else "no usable LLM answer"
        log.warning(
            "level %d: %d of %d %s %s (%s)", stats["level"], stats["failed_clusters"], stats["clusters"], what, consequence, why
        )
