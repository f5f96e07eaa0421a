"""LLM-written titles and descriptions (HERCULES Section 3.4, Appendix A), fast and resumable.

Per level: every cluster becomes a prompt block (size, distinctive keywords, the
items closest to its centre, its subclusters' titles, distinctive numeric
statistics on the original scale, and the keywords of its most similar other
clusters so the title says what differs). Blocks are packed into prompts under a
token budget that binds (context window minus the answer), sent with bounded
concurrency, and answered as JSON keyed by cluster id (JSON schema where the
backend supports it). Failures shrink the batch (split in halves), timeouts and
5xx back off exponentially with jitter, 429 honours Retry-After, ids missing
from an answer are retried alone, and a cluster that keeps failing keeps its
keyword title (marked ``source="keywords"``), never invented text. Every answer is
cached by content hash, so a re-run or a resumed run repeats no call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError
from tqdm.auto import tqdm

from hercules.common.aio import run_sync
from hercules.labeling.base import ClusterLabel, LevelContext, representative_items
from hercules.labeling.keywords import KeywordLabeler, snippet
from hercules.llm.base import ContextOverflowError, LLMError, LLMProvider, RateLimitError, TransientLLMError
from hercules.llm.cache import PromptLog, ResponseCache, request_key

log = logging.getLogger(__name__)

SYSTEM = "You name clusters of {modality} data for an analyst. Answer with one JSON object only."
INSTRUCTIONS = """Write a title (at most 6 words) and a description (1-2 sentences) for EACH of the {n} clusters below (hierarchy level {level}; level 1 groups single items, higher levels group clusters).
- Base them only on the evidence shown: items, keywords, subclusters, statistics.
- Each title must name what sets that cluster apart from the similar clusters listed with it; never reuse a title.
- No generic titles such as "Miscellaneous" or "Various topics".{parents}{topic}
Return JSON: {{"<cluster id>": {{"title": "...", "description": "..."}}, ...}} with exactly these ids: {ids}.

"""


class _Label(BaseModel):
    title: str
    description: str


@dataclass
class LevelStats:
    """Accounting for one level's labelling."""

    level: int
    clusters: int = 0
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failed_clusters: int = 0
    wall_s: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)



def _extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (fences and chatter around it tolerated)."""
    text = text.strip()
    try:
        out = json.loads(text)
        return out if isinstance(out, dict) else None
    except json.JSONDecodeError:
        pass
    start = text.find("{")
    while start != -1:
        depth = 0
        in_str = esc = False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                esc = (ch == "\\") and not esc
                if ch == '"' and not esc:
                    in_str = False
                continue
            if ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        out = json.loads(text[start : i + 1])
                        return out if isinstance(out, dict) else None
                    except json.JSONDecodeError:
                        break
        start = text.find("{", start + 1)
    return None


def parse_labels(text: str, ids: list[str]) -> dict[str, ClusterLabel]:
    """Valid labels for the expected ``ids``; anything else in the answer is ignored."""
    data = _extract_json(text)
    if data is None:
        return {}
    norm = {str(k).strip().strip("#").strip(): v for k, v in data.items()}
    out = {}
    for cid in ids:
        v = norm.get(cid)
        try:
            lab = _Label.model_validate(v)
        except ValidationError:
            continue
        title, desc = " ".join(lab.title.split()), " ".join(lab.description.split())
        if re.fullmatch(r"(?i)(cluster\s*)?L?\d+(-\d+)?", title):  # the id echoed back is not a title
            continue
        if title and desc:
            out[cid] = ClusterLabel(title=title[:100], description=desc[:600], source="llm")
    return out


def label_schema(ids: list[str]) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {"title": {"type": "string", "maxLength": 60}, "description": {"type": "string", "maxLength": 300}},
        "required": ["title", "description"],
        "additionalProperties": False,
    }
    return {"type": "object", "properties": {i: item for i in ids}, "required": list(ids), "additionalProperties": False}


class LLMLabeler:
    """Labels clusters with an :class:`~hercules.llm.LLMProvider` (see module docstring).

    Parameters: ``batch_size`` clusters per prompt at most; ``concurrency`` prompts in flight
    (default: the provider's); ``samples`` representative items per cluster, truncated to
    ``sample_chars``; ``retries`` per prompt; ``cache`` (True, False or a ResponseCache);
    ``log_path`` a JSONL prompt/response log.
    """

    def __init__(
        self,
        llm: LLMProvider,
        *,
        batch_size: int = 8,
        concurrency: int | None = None,
        samples: int = 5,
        sample_strategy: str = "centroid_closest",
        sample_chars: int = 160,
        child_samples: int = 6,
        retries: int = 4,
        backoff: float = 1.0,
        cache: bool | ResponseCache = True,
        log_path: str | None = None,
        disambiguate: bool = True,
        progress: bool = True,
    ) -> None:
        self.llm = llm
        self.batch_size = batch_size
        self.concurrency = concurrency or llm.max_concurrency
        self.samples = samples
        self.sample_strategy = sample_strategy
        self.sample_chars = sample_chars
        self.child_samples = child_samples
        self.retries = retries
        self.backoff = backoff
        self.cache = ResponseCache() if cache is True else (cache if isinstance(cache, ResponseCache) else None)
        self.prompt_log = PromptLog(log_path) if log_path else None
        self.disambiguate = disambiguate
        self.progress = progress
        self.keywords = KeywordLabeler()
        self.stats_: list[LevelStats] = []

    # ---------------------------------------------------------------- prompts
    def _blocks(self, ctx: LevelContext, fallback: list[ClusterLabel]) -> list[str]:
        """One evidence block per cluster."""
        texts = ctx.dataset.item_texts()
        reps = representative_items(ctx, self.samples, self.sample_strategy)
        stats = self.keywords.numeric_stats(ctx) if ctx.dataset.modality == "numeric" else None
        sizes = np.bincount(ctx.item_labels, minlength=ctx.n_clusters)
        neighbours = self._neighbours(ctx)
        blocks = []
        for j in range(ctx.n_clusters):
            lines = [f"### Cluster {self._cid(ctx, j)}", f"Size: {sizes[j]} items"]
            if fallback[j].keywords:
                lines.append(f"Distinctive keywords: {', '.join(fallback[j].keywords[:8])}")
            if stats is not None:
                lines.append("Most distinctive variables (original scale):")
                lines += [f"- {line}" for line in stats[j]]
            if ctx.child_labels is not None and ctx.child_parent is not None:
                kids = np.flatnonzero(ctx.child_parent == j)[: self.child_samples]
                lines.append("Subclusters:")
                lines += [f'- "{ctx.child_labels[c].title}": {snippet(ctx.child_labels[c].description, 90)}' for c in kids]
            lines.append("Items closest to the centre:")
            lines += [f'- "{snippet(texts[i], self.sample_chars)}"' for i in reps[j]]
            if neighbours is not None and len(neighbours[j]):
                sims = "; ".join(", ".join(fallback[n].keywords[:4]) or fallback[n].title for n in neighbours[j])
                lines.append(f"Most similar other clusters (keywords): {sims}")
            blocks.append("\n".join(lines))
        return blocks

    @staticmethod
    def _cid(ctx: LevelContext, j: int) -> str:
        return f"L{ctx.level}-{j}"

    @staticmethod
    def _neighbours(ctx: LevelContext, n: int = 2) -> list[np.ndarray] | None:
        if ctx.centroids is None or ctx.n_clusters < 3:
            return None
        C = ctx.centroids.astype(np.float32)
        sq = np.einsum("ij,ij->i", C, C)
        D = sq[:, None] - 2 * C @ C.T + sq[None, :]
        np.fill_diagonal(D, np.inf)
        return list(np.argsort(D, axis=1)[:, :n])

    def _order(self, ctx: LevelContext) -> list[int]:
        """Cluster order along the first principal axis, so each prompt holds similar clusters."""
        if ctx.centroids is None or ctx.n_clusters < 3:
            return list(range(ctx.n_clusters))
        C = ctx.centroids - ctx.centroids.mean(axis=0)
        _, _, vt = np.linalg.svd(C, full_matrices=False)
        return list(np.argsort(C @ vt[0], kind="stable"))

    def _messages(self, ctx: LevelContext, ids: list[str], blocks: list[str]) -> list[dict[str, str]]:
        topic = (
            f"\n- Orient titles and descriptions towards the theme '{ctx.topic_seed}' where relevant." if ctx.topic_seed else ""
        )
        parents = (
            "\n- A cluster with subclusters needs a broader title that covers them all; never copy a subcluster's title."
            if ctx.child_labels is not None
            else ""
        )
        head = INSTRUCTIONS.format(n=len(ids), level=ctx.level, topic=topic, parents=parents, ids=", ".join(ids))
        modality = {"vectors": "vector"}.get(ctx.dataset.modality, ctx.dataset.modality)
        return [
            {"role": "system", "content": SYSTEM.format(modality=modality)},
            {"role": "user", "content": head + "\n\n".join(blocks)},
        ]

    def plan(self, ctx: LevelContext, fallback: list[ClusterLabel] | None = None) -> list[list[int]]:
        """Batches of cluster indices whose prompts fit the token budget."""
        fallback = fallback or self.keywords.label_level(ctx)
        blocks = self._blocks(ctx, fallback)
        per_answer = 90  # tokens per cluster in the JSON answer (title <= 60 chars, description <= 300)
        budget = int(0.9 * self.llm.context_window) - 400  # instructions, system prompt, safety margin
        batches: list[list[int]] = []
        cur: list[int] = []
        used = 0
        for j in self._order(ctx):
            cost = self.llm.count_tokens(blocks[j]) + per_answer
            if cur and (
                len(cur) >= self.batch_size or used + cost > budget or (len(cur) + 1) * per_answer > self.llm.options.max_tokens
            ):
                batches.append(cur)
                cur, used = [], 0
            if cost > budget:  # one cluster alone is too big: drop samples until it fits
                log.warning("cluster %s: evidence exceeds the token budget; it will be shortened", self._cid(ctx, j))
            cur.append(j)
            used += cost
        if cur:
            batches.append(cur)
        self._last_blocks = blocks
        return batches

    def estimate(self, ctx: LevelContext) -> dict[str, int]:
        """Calls and prompt tokens this level would cost (``--dry-run``)."""
        fallback = self.keywords.label_level(ctx)
        batches = self.plan(ctx, fallback)
        tokens = 0
        for b in batches:
            msgs = self._messages(ctx, [self._cid(ctx, j) for j in b], [self._last_blocks[j] for j in b])
            tokens += sum(self.llm.count_tokens(m["content"]) for m in msgs)
        return {
            "level": ctx.level,
            "clusters": ctx.n_clusters,
            "calls": len(batches),
            "prompt_tokens": tokens,
            "max_completion_tokens": sum(90 * len(b) for b in batches),
        }

    # ---------------------------------------------------------------- calls
    async def _call(self, messages, ids: list[str], stats: LevelStats) -> dict[str, ClusterLabel]:
        """One prompt with retries; returns whatever valid labels it yields (may be partial or empty)."""
        schema = label_schema(ids) if self.llm.supports_json_schema else None
        # Options that change the answer are part of the key; the timeout is not.
        key = request_key(self.llm.model_id, messages, schema, self.llm.options.model_dump(exclude={"timeout"}))
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                parsed = parse_labels(hit.text, ids)
                if parsed:
                    stats.cache_hits += 1
                    return parsed
        for attempt in range(self.retries + 1):
            t0 = time.perf_counter()
            error = None
            try:
                r = await asyncio.wait_for(self.llm.acomplete(messages, schema=schema), timeout=self.llm.options.timeout)
            except ContextOverflowError:
                raise
            except RateLimitError as e:
                error, wait = str(e), e.retry_after if e.retry_after is not None else self._delay(attempt)
            except (TransientLLMError, asyncio.TimeoutError) as e:
                error, wait = f"{type(e).__name__}: {e}", self._delay(attempt)
            stats.calls += 1
            if error is None:
                stats.prompt_tokens += r.prompt_tokens or sum(self.llm.count_tokens(m["content"]) for m in messages)
                stats.completion_tokens += r.completion_tokens or self.llm.count_tokens(r.text)
                parsed = parse_labels(r.text, ids)
                self._log(messages, ids, r.text, None, time.perf_counter() - t0, len(parsed))
                if parsed:
                    if self.cache is not None:
                        self.cache.put(key, self.llm.model_id, r)
                    return parsed
                if len(ids) > 1:
                    return {}  # unparseable: the caller splits the batch
                error, wait = "no valid labels in the answer", self._delay(attempt)
            else:
                self._log(messages, ids, None, error, time.perf_counter() - t0, 0)
            if attempt < self.retries:
                stats.retries += 1
                log.info("retrying %d cluster(s) in %.1f s after: %s", len(ids), wait, error)
                await asyncio.sleep(wait)
        return {}

    def _delay(self, attempt: int) -> float:
        return self.backoff * (2**attempt) * (0.5 + random.random())

    def _log(self, messages, ids, response, error, seconds, n_valid) -> None:
        if self.prompt_log is not None:
            self.prompt_log.write(
                {
                    "time": time.time(),
                    "model": self.llm.model_id,
                    "ids": ids,
                    "prompt": messages,
                    "response": response,
                    "error": error,
                    "seconds": round(seconds, 3),
                    "valid": n_valid,
                }
            )

    async def _run_batch(self, ctx, batch: list[int], sem: asyncio.Semaphore, stats: LevelStats) -> dict[int, ClusterLabel]:
        ids = [self._cid(ctx, j) for j in batch]
        msgs = self._messages(ctx, ids, [self._last_blocks[j] for j in batch])
        async with sem:
            try:
                got = await self._call(msgs, ids, stats)
            except ContextOverflowError:
                got = {}
                if len(batch) == 1:
                    log.warning("cluster %s does not fit the model's context even alone", ids[0])
                    return {}
            except LLMError as e:
                log.error("LLM call failed for good (%s); keeping keyword labels for %d cluster(s)", e, len(batch))
                return {}
        out = {j: got[cid] for j, cid in zip(batch, ids) if cid in got}
        missing = [j for j in batch if j not in out]
        if out:  # partial answer: retry each missing id alone
            parts = [[j] for j in missing]
        elif len(batch) > 1:  # nothing usable (unparseable, too long): split the batch in halves
            parts = [missing[: len(missing) // 2], missing[len(missing) // 2 :]]
        else:
            parts = []
        if parts:
            for r in await asyncio.gather(*(self._run_batch(ctx, p, sem, stats) for p in parts)):
                out.update(r)
        return out

    async def _label_async(self, ctx: LevelContext, fallback: list[ClusterLabel], stats: LevelStats) -> list[ClusterLabel]:
        batches = self.plan(ctx, fallback)
        stats.batch_sizes = [len(b) for b in batches]
        sem = asyncio.Semaphore(self.concurrency)
        bar = tqdm(
            total=ctx.n_clusters, desc=f"L{ctx.level} LLM labels", unit="cluster", disable=not self.progress or len(batches) < 2
        )

        async def tracked(b: list[int]) -> dict[int, ClusterLabel]:
            out = await self._run_batch(ctx, b, sem, stats)
            bar.update(len(b))
            return out

        try:
            results = await asyncio.gather(*(tracked(b) for b in batches))
            labels = self._merge(ctx, fallback, results, stats)
            if self.disambiguate:
                await self._disambiguate(ctx, labels, sem, stats)
        finally:
            bar.close()
            await self.llm.aclose()  # HTTP clients are bound to this event loop
        return labels

    @staticmethod
    def _merge(ctx, fallback: list[ClusterLabel], results, stats: LevelStats) -> list[ClusterLabel]:
        got: dict[int, ClusterLabel] = {}
        for r in results:
            got.update(r)
        labels = []
        for j in range(ctx.n_clusters):
            if j in got:
                got[j].keywords = fallback[j].keywords
                labels.append(got[j])
            else:
                stats.failed_clusters += 1
                labels.append(fallback[j])  # keyword title kept, source stays "keywords"
        return labels

    async def _disambiguate(self, ctx, labels: list[ClusterLabel], sem, stats: LevelStats) -> None:
        """Ask again for clusters of this level that share a title, and for parents that copied
        the title of one of their several subclusters."""

        def norm(t: str) -> str:
            return re.sub(r"\W+", " ", t.lower()).strip()

        groups: dict[str, list[int]] = {}
        for j, lab in enumerate(labels):
            if lab.source == "llm":
                groups.setdefault(norm(lab.title), []).append(j)
        for dup in (g for g in groups.values() if len(g) > 1):
            await self._ask_again(
                ctx,
                labels,
                dup,
                sem,
                stats,
                f'These {len(dup)} clusters were all titled "{labels[dup[0]].title}". '
                "Give each a different title that names what distinguishes it from the others.",
            )
        if ctx.child_labels is not None and ctx.child_parent is not None:  # checked after the renames above
            copied = [
                j
                for j, lab in enumerate(labels)
                if lab.source == "llm"
                and (kids := np.flatnonzero(ctx.child_parent == j)).size > 1
                and norm(lab.title) in {norm(ctx.child_labels[c].title) for c in kids}
            ]
            if copied:
                await self._ask_again(
                    ctx,
                    labels,
                    copied,
                    sem,
                    stats,
                    "Each of these clusters was given the title of one of "
                    "its subclusters. Give each a broader title that covers all of its subclusters.",
                )

    async def _ask_again(self, ctx, labels: list[ClusterLabel], which: list[int], sem, stats: LevelStats, note: str) -> None:
        ids = [self._cid(ctx, j) for j in which]
        msgs = self._messages(ctx, ids, [self._last_blocks[j] for j in which])
        msgs[-1]["content"] = msgs[-1]["content"].replace("\n\n", f"\n{note}\n\n", 1)
        async with sem:
            try:
                got = await self._call(msgs, ids, stats)
            except LLMError:
                return
        for j, cid in zip(which, ids):
            if cid in got:
                got[cid].keywords = labels[j].keywords
                labels[j] = got[cid]

    def _record(self, stats: LevelStats, t0: float, what: str) -> None:
        stats.wall_s = time.perf_counter() - t0
        self.stats_.append(stats)
        log.info(
            "%s: %d clusters/items, %d calls (%d cached), %d+%d tokens, %d failed, %.1f s",
            what,
            stats.clusters,
            stats.calls,
            stats.cache_hits,
            stats.prompt_tokens,
            stats.completion_tokens,
            stats.failed_clusters,
            stats.wall_s,
        )

    # ---------------------------------------------------------------- level 0
    def describe_items(self, dataset, item_batch_size: int = 16, topic_seed: str | None = None) -> list[ClusterLabel | None]:
        """An LLM title and description for every item (``use_llm_for_l0_descriptions``).

        Batched and concurrent like cluster labels; an item whose answer keeps failing gets
        ``None`` (the caller keeps its text snippet: a failure message is never embedded).
        """
        texts = dataset.item_texts()
        n = len(texts)
        stats = LevelStats(level=0, clusters=n)
        topic = f" Orient them towards the theme '{topic_seed}' where relevant." if topic_seed else ""

        def messages(idx: list[int]) -> tuple[list[dict[str, str]], list[str]]:
            ids = [f"I{i}" for i in idx]
            body = "\n\n".join(f'### Item {cid}\n"{snippet(texts[i], 4 * self.sample_chars)}"' for cid, i in zip(ids, idx))
            head = (
                f"Write a title (at most 6 words) and a one-sentence description of EACH of the {len(ids)} items below.{topic}\n"
                f'Return JSON: {{"<item id>": {{"title": "...", "description": "..."}}}} with exactly these ids: {", ".join(ids)}.\n\n'
            )
            return [
                {"role": "system", "content": SYSTEM.format(modality=dataset.modality)},
                {"role": "user", "content": head + body},
            ], ids

        async def run(idx: list[int], sem: asyncio.Semaphore) -> dict[int, ClusterLabel]:
            msgs, ids = messages(idx)
            async with sem:
                try:
                    got = await self._call(msgs, ids, stats)
                except LLMError:
                    got = {}
            out = {i: got[cid] for i, cid in zip(idx, ids) if cid in got}
            missing = [i for i in idx if i not in out]
            if missing and len(idx) > 1:
                for r in await asyncio.gather(*(run([i], sem) for i in missing)):
                    out.update(r)
            return out

        async def main() -> dict[int, ClusterLabel]:
            sem = asyncio.Semaphore(self.concurrency)
            try:
                parts = await asyncio.gather(
                    *(run(list(range(s, min(s + item_batch_size, n))), sem) for s in range(0, n, item_batch_size))
                )
            finally:
                await self.llm.aclose()
            merged: dict[int, ClusterLabel] = {}
            for p in parts:
                merged.update(p)
            return merged

        t0 = time.perf_counter()
        got = run_sync(main())
        stats.failed_clusters = n - len(got)
        self._record(stats, t0, "level 0 item descriptions")
        return [got.get(i) for i in range(n)]

    def label_level(self, ctx: LevelContext) -> list[ClusterLabel]:
        fallback = self.keywords.label_level(ctx)
        stats = LevelStats(level=ctx.level, clusters=ctx.n_clusters)
        t0 = time.perf_counter()
        labels = run_sync(self._label_async(ctx, fallback, stats))
        self._record(stats, t0, f"level {ctx.level} labels")
        return labels
