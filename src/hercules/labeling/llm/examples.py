"""A worked example in the instructions: one cluster from another domain, shown in the same block
format as the real ones, with the answer expected for it.

Why: a small model (Qwen2.5-Coder 0.5B) told to "write a title" for a block of questions often
answers with one of the questions, copied (all three candidates were copied items for about half
of Banking77's level-1 clusters: docs/BENCHMARKS.md, Title quality). One example of items turned
into a short name teaches the form better than another rule. It sits in the instructions, before
anything that varies within a level, so a llama.cpp backend evaluates it once per level (prompt
cache) and it costs no decoding. The domain (a train operator's customer messages) is chosen to
share no words with the datasets it is measured on.

Measured (``benchmarks/titles_probe.py``, first pass, Qwen 0.5B, anchor terms + 3 candidates), it does what it
is for, and loses on the measures that matter, so it is off by default (``llm_options={"examples": True}``):
chosen titles that copy an item 16 -> 0 of 34 on Banking77 [100] and 14 -> 3 of 32 on HWU64 [64], 16-18%
less time per cluster (shorter answers), but identification 0.912 -> 0.824 and 1.000 -> 0.938, and
title_alignment 0.647 -> 0.471 and 0.594 -> 0.594: a copied query sits nearer its cluster and its intent's
name than the short name the model writes instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class _Example:
    size: int
    keywords: str
    items: tuple[str, ...]
    neighbours: str
    anchor: str
    titles: tuple[str, ...]  # five: as many candidates as llm_options' "candidates" allows
    description: str
    children: tuple[tuple[str, str], ...] = ()  # (title, description) of its subclusters: a parent


_LEAF = _Example(
    size=41,
    keywords="delay repay, compensation, late train, claim form",
    items=(
        "my train was 40 minutes late, how do I get money back?",
        "where do I send a claim for a delayed journey",
        "is there compensation when the train is cancelled",
    ),
    neighbours="refund, unused ticket, cancel; seat, reservation, coach",
    anchor="delay compensation",
    titles=(
        "Delay compensation claims",
        "Claiming late train compensation",
        "Delay compensation forms",
        "Compensation for delayed trains",
        "Delay compensation requests",
    ),
    description="Passengers asking how and where to claim compensation after a delayed or cancelled train.",
)
_PARENT = _Example(
    size=233,
    keywords="refund, money back, compensation, claim",
    items=("can I get a refund on this ticket", "when will my refund arrive", "how do I claim for the delay"),
    neighbours="ticket price, railcard, discount; seat, reservation, coach",
    anchor="refund",
    titles=(
        "Refunds and compensation",
        "Ticket refund requests",
        "Refund and compensation payments",
        "Refunds, compensation and payouts",
        "Getting a refund",
    ),
    description="Customers seeking money back: ticket refunds, delay compensation and when the payment arrives.",
    children=(
        ("Delay compensation claims", "Passengers asking how to claim compensation after a delayed train."),
        ("Unused ticket refunds", "Requests to refund tickets that were bought but not used."),
        ("Refund payment status", "Questions about when an approved refund will be paid."),
    ),
)


def worked_example(parent: bool, n_titles: int, anchor: bool) -> str:
    """The example as it goes into the instructions: a block (a parent with subclusters when
    ``parent``) and its answer in the JSON shape asked for (``n_titles`` candidates, or one title)."""
    ex = _PARENT if parent else _LEAF
    lines = ["### Example cluster E1", f"Size: {ex.size} items", f"Distinctive keywords: {ex.keywords}"]
    if ex.children:
        lines += ["Subclusters:", *(f'- "{t}": {d}' for t, d in ex.children)]
    lines += ["Items closest to the centre:", *(f'- "{t}"' for t in ex.items)]
    lines.append(f"Most similar other clusters (keywords): {ex.neighbours}")
    if anchor:
        lines.append(f'Title must contain: "{ex.anchor}"')
    titles = list(ex.titles[:n_titles])
    entry = {"titles": titles} if n_titles > 1 else {"title": titles[0]}
    answer = json.dumps({"E1": {**entry, "description": ex.description}})
    return (
        "\nExample from another dataset (its words are not yours to reuse): a title names what the items share, "
        "it does not copy an item.\n" + "\n".join(lines) + f"\nAnswer: {answer}\n"
    )
