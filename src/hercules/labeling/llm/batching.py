"""Packing clusters into prompts under a token budget, and getting every batch answered.

The budget that binds is the context window minus the answer: blocks go into a prompt in the
order of their group (:mod:`.groups`: nearest neighbours, or the principal axis) until the batch size, the prompt budget or the answer budget would be
exceeded. A cluster too big for a prompt on its own is shown with less evidence (fewer
samples, shorter snippets, fewer subclusters) until it fits.

Getting a batch answered (:func:`solve`): a partial answer is kept and each missing id asked
again alone; an unusable answer (unparseable, or a prompt the model says is too long) splits the
batch in halves; a failing server (retries spent, breaker open) ends the batch: splitting would
only multiply the calls, so its clusters keep their keyword titles.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from hercules.hierarchy import cluster_id
from hercules.labeling.llm.evidence import Detail, Evidence
from hercules.labeling.llm.prompt import PER_ANSWER_TOKENS
from hercules.llm.base import ContextOverflowError, LLMProvider, TransientLLMError
from hercules.llm.runner import gather_all

log = logging.getLogger(__name__)

L = TypeVar("L")

#: Tokens kept for the instructions, the system prompt and a safety margin.
_OVERHEAD_TOKENS = 400
#: More kept where the instructions hold the worked example (:mod:`.examples`: ~250 tokens).
_EXAMPLE_TOKENS = 300


@dataclass
class Plan:
    """The prompts of one level: each cluster's evidence block and the batches they go in."""

    blocks: list[str]
    batches: list[list[int]]
    shortened: list[int] = field(default_factory=list)  # clusters shown with less evidence to fit
    members: list[set[str]] = field(default_factory=list)  # normalised member texts each prompt shows (not titles)
    anchors: list[str] | None = None  # each cluster's anchor term (:mod:`.anchors`), or None
    anchor_shown: bool = False  # the blocks ask each title to contain its anchor term


def prompt_budget(llm: LLMProvider, example: bool = False) -> int:
    """Tokens the blocks of one prompt may use: 90% of the context window less the overhead."""
    return int(0.9 * llm.context_window) - _OVERHEAD_TOKENS - (_EXAMPLE_TOKENS if example else 0)


def plan_batches(
    evidence: Evidence,
    groups: list[list[int]],
    llm: LLMProvider,
    batch_size: int,
    detail: Detail,
    example: bool = False,
) -> Plan:
    """Blocks of every cluster and batches whose prompts fit the token budget, in the order of
    ``groups``; a batch never spans two groups (one group holding every cluster: plain chunks);
    ``example``: the instructions hold the worked example, so the blocks get less."""
    budget = prompt_budget(llm, example)
    blocks = [""] * evidence.ctx.n_clusters
    batches: list[list[int]] = []
    shortened: list[int] = []
    for group in groups:
        cur: list[int] = []
        used = 0
        for j in group:
            blocks[j], cost, was_cut = _fitted_block(evidence, j, llm, budget, detail)
            if was_cut:
                shortened.append(j)
            too_many = len(cur) >= batch_size or (len(cur) + 1) * PER_ANSWER_TOKENS > llm.options.max_tokens
            if cur and (too_many or used + cost > budget):
                batches.append(cur)
                cur, used = [], 0
            cur.append(j)
            used += cost
        if cur:
            batches.append(cur)
    return Plan(blocks, batches, shortened)


def _fitted_block(evidence: Evidence, j: int, llm: LLMProvider, budget: int, detail: Detail) -> tuple[str, int, bool]:
    """Cluster ``j``'s block at full detail, or shortened until it fits the budget alone."""
    block = evidence.block(j, detail)
    cost = llm.count_tokens(block) + PER_ANSWER_TOKENS
    first_cost, shown = cost, detail
    while cost > budget and (smaller := shown.shrunk()) is not None:
        shown = smaller
        block = evidence.block(j, shown)
        cost = llm.count_tokens(block) + PER_ANSWER_TOKENS
    if shown is detail:
        return block, cost, False
    cid = cluster_id(evidence.ctx.level, j)
    if cost > budget:
        log.warning(
            "cluster %s: evidence needs %d tokens, over the prompt budget of %d even shortened; it is sent alone "
            "and keeps its keyword title if the model rejects it",
            cid,
            cost,
            budget,
        )
    else:
        log.info(
            "cluster %s: evidence shortened to %d samples of %d characters to fit the prompt budget (%d > %d tokens)",
            cid,
            shown.samples,
            shown.chars,
            first_cost,
            budget,
        )
    return block, cost, True


async def solve(
    batch: list[int], ask: Callable[[list[int]], Awaitable[dict[int, L]]], name: Callable[[int], str]
) -> dict[int, L]:
    """Answers for ``batch`` from ``ask`` (see module docstring); ``name(j)`` names an id in logs."""
    try:
        out = await ask(batch)
    except ContextOverflowError:
        if len(batch) == 1:
            log.warning("%s does not fit the model's context even alone: no LLM label for it", name(batch[0]))
            return {}
        out = {}
    except TransientLLMError:  # retries spent or breaker open: the server, not the prompt
        return {}
    missing = [j for j in batch if j not in out]
    if not missing or len(batch) == 1:
        return out
    if out:  # partial answer: each missing id alone
        parts = [[j] for j in missing]
    else:  # nothing usable: halves
        parts = [missing[: len(missing) // 2], missing[len(missing) // 2 :]]
    for got in await gather_all(lambda p: solve(p, ask, name), parts):
        out.update(got)
    return out
