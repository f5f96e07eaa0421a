"""What the LLM is asked and how its answer is read: instructions, messages, the JSON schema
of an answer and a tolerant parser (fences, chatter and bad entries around valid JSON)."""

from __future__ import annotations

import json
import re
from typing import Any

from hercules.hierarchy import ClusterLabel
from hercules.labeling.base import LevelContext
from hercules.labeling.llm.examples import worked_example

#: Completion tokens budgeted per cluster in a JSON answer (title <= 60 chars, description <= 200).
PER_ANSWER_TOKENS = 90
#: Tokens per extra candidate title (60 characters and quotes).
PER_TITLE_TOKENS = 25

SYSTEM = "You name clusters of {modality} data for an analyst. Answer with one JSON object only."
#: Words a description may use: decoding dominates the time on a CPU, and a title is what is read.
DESCRIPTION_WORDS = 25
# The text before the first varying part ({parents}: constant within a level) is the same in
# every prompt of a level, so a llama.cpp backend reuses its evaluated prefix.
INSTRUCTIONS = """Write a title (at most 6 words) and a description (one sentence, at most {words} words) for each cluster below. Level 1 clusters group single items; higher levels group clusters.
- Base them only on the evidence shown: items, keywords, subclusters, statistics.
- Each title must name what sets that cluster apart from the similar clusters listed with it; never reuse a title.
- No generic titles such as "Miscellaneous", "Various topics" or "Issues".{anchor}{parents}{topic}{example}
These {n} clusters are at hierarchy level {level}. {answer} with exactly these ids: {ids}.
"""
ANSWER_ONE = 'Return JSON: {"<cluster id>": {"title": "...", "description": "..."}, ...}'
ANSWER_MANY = (
    "Give {n} different candidate titles per cluster, each a complete title on its own.\n"
    'Return JSON: {{"<cluster id>": {{"titles": ["...", ...], "description": "..."}}, ...}}'
)
#: The instruction that goes with an evidence block's "Title must contain" line (:mod:`.anchors`).
ANCHOR_RULE = '\n- Each title must contain the phrase given after "Title must contain" in its cluster, plus what sets it apart.'
REPAIR_WHY = 'Your title for cluster {cid}, "{title}", describes other clusters better than this one.'
COPIED_WHY = (
    'Your title for cluster {cid}, "{title}", is the title of one of its subclusters; it needs a broader title '
    "that covers all of its subclusters."
)
MEMBER_WHY = (
    'Your title for cluster {cid}, "{title}", is one of its items or a sentence, not a name; it needs a short name '
    "(at most 6 words) for what its items share that sets it apart."
)
#: What a repair prompt says was wrong, by the reason :func:`hercules.labeling.llm.verify.verify_and_repair` gives.
WHY = {"confused": REPAIR_WHY, "copied": COPIED_WHY, "member": MEMBER_WHY}
REPAIR_INSTRUCTIONS = """{why}
Write {n} different candidate titles (each at most 6 words) and a description (one sentence, at most {words} words) for cluster {cid} only, naming what sets it apart from the similar clusters shown first for contrast.
- Base them only on the evidence shown; never reuse a title of the contrast clusters.{topic}
Return JSON: {{"{cid}": {{"titles": ["...", ...], "description": "..."}}}}
"""
ITEM_INSTRUCTIONS = (
    "Write a title (at most 6 words) and a one-sentence description of EACH of the {n} items below.{topic}\n"
    'Return JSON: {{"<item id>": {{"title": "...", "description": "..."}}}} with exactly these ids: {ids}.\n'
)


def answer_tokens(n_ids: int, n_titles: int = 1) -> int:
    """The cap on one answer's tokens: twice what ``n_ids`` answers of ``n_titles`` titles need, so a
    model that rambles (repeats, pads with whitespace) is cut early instead of running to the
    provider's limit; a well-formed answer never comes near it (bench_titles: at most 92 of 180 for one)."""
    return 2 * n_ids * (PER_ANSWER_TOKENS + PER_TITLE_TOKENS * (n_titles - 1))


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (fences and chatter around it tolerated)."""
    text = text.strip()
    try:
        out = json.loads(text)
        return out if isinstance(out, dict) else None
    except json.JSONDecodeError:
        pass
    start = text.find("{")
    while start != -1:
        end = _object_end(text, start)
        if end is not None:
            try:
                out = json.loads(text[start:end])
                return out if isinstance(out, dict) else None
            except json.JSONDecodeError:
                pass
        start = text.find("{", start + 1)
    return None


def _object_end(text: str, start: int) -> int | None:
    """Index just past the ``}`` that closes the ``{`` at ``start`` (strings skipped), if any."""
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
                return i + 1
    return None


def parse_candidates(text: str, ids: list[str]) -> dict[str, tuple[list[str], str]]:
    """Candidate titles and the description for each expected id; accepts ``"title"`` (one) or
    ``"titles"`` (a list). Ids echoed back as titles and empty strings are dropped."""
    data = extract_json(text)
    if data is None:
        return {}
    norm = {str(k).strip().strip("#").strip(): v for k, v in data.items()}
    out = {}
    for cid in ids:
        entry = norm.get(cid)
        if not isinstance(entry, dict) or not isinstance(entry.get("description"), str):
            continue
        raw = entry.get("titles", entry.get("title"))
        raw = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        titles = [" ".join(t.split())[:100] for t in raw if isinstance(t, str)]
        titles = [t for t in titles if t and not re.fullmatch(r"(?i)(cluster\s*)?L?\d+(-\d+)?", t)]
        desc = " ".join(entry["description"].split())[:600]
        if titles and desc:
            out[cid] = (list(dict.fromkeys(titles)), desc)
    return out


def parse_labels(text: str, ids: list[str]) -> dict[str, ClusterLabel]:
    """Valid labels for the expected ``ids`` (the first candidate title where several came);
    anything else in the answer is ignored."""
    return {cid: ClusterLabel(title=t[0], description=d, source="llm") for cid, (t, d) in parse_candidates(text, ids).items()}


def label_schema(ids: list[str], n_titles: int = 1, words: int = DESCRIPTION_WORDS) -> dict[str, Any]:
    """JSON schema of an answer holding exactly ``ids`` (sent where the backend supports it);
    ``n_titles`` > 1 asks for a list of that many candidate titles per id; a description is cut at
    8 characters per asked word (the grammar ends the string there: decoding is what costs on a CPU)."""
    title = {"type": "string", "maxLength": 60}
    key, value = (
        ("title", title)
        if n_titles == 1
        else ("titles", {"type": "array", "items": title, "minItems": n_titles, "maxItems": n_titles})
    )
    item = {
        "type": "object",
        "properties": {key: value, "description": {"type": "string", "maxLength": 8 * words}},
        "required": [key, "description"],
        "additionalProperties": False,
    }
    return {"type": "object", "properties": {i: item for i in ids}, "required": list(ids), "additionalProperties": False}


def _system(modality: str) -> dict[str, str]:
    return {"role": "system", "content": SYSTEM.format(modality={"vectors": "vector"}.get(modality, modality))}


def _topic(ctx: LevelContext) -> str:
    return f"\n- Orient titles and descriptions towards the theme '{ctx.topic_seed}' where relevant." if ctx.topic_seed else ""


def cluster_messages(
    ctx: LevelContext,
    ids: list[str],
    blocks: list[str],
    note: str | None = None,
    n_titles: int = 1,
    anchor: bool = False,
    words: int = DESCRIPTION_WORDS,
    example: bool = False,
) -> list[dict[str, str]]:
    """The chat messages naming the clusters ``ids`` from their evidence ``blocks``; ``note``
    (a reason to ask again, e.g. duplicate titles) goes right after the instructions;
    ``n_titles`` > 1 asks for that many candidate titles per cluster; ``anchor``: the blocks carry a
    "Title must contain" phrase and the instructions say so; ``example``: a worked example
    (:mod:`.examples`) of text items turned into a name goes before the level's own part."""
    topic = _topic(ctx)
    parents = (
        "\n- A cluster with subclusters needs a broader title that covers them all; never copy a subcluster's title."
        if ctx.child_labels is not None
        else ""
    )
    answer = ANSWER_ONE if n_titles == 1 else ANSWER_MANY.format(n=n_titles)
    shown = example and ctx.dataset.modality == "text"
    head = INSTRUCTIONS.format(
        example=worked_example(ctx.child_labels is not None, n_titles, anchor) if shown else "",
        n=len(ids),
        level=ctx.level,
        topic=topic,
        anchor=ANCHOR_RULE if anchor else "",
        parents=parents,
        answer=answer,
        ids=", ".join(ids),
        words=words,
    )
    if note:
        head += note + "\n"
    return [_system(ctx.dataset.modality), {"role": "user", "content": head + "\n" + "\n\n".join(blocks)}]


def repair_messages(
    ctx: LevelContext,
    cid: str,
    title: str,
    block: str,
    contrast: list[tuple[str, str, str]],
    n_titles: int,
    why: str = "confused",
    words: int = DESCRIPTION_WORDS,
) -> list[dict[str, str]]:
    """Cluster ``cid`` asked alone again: why its ``title`` failed (:data:`WHY`: closer to other
    clusters, a subcluster's title, or a copied item), the ``contrast`` clusters (id, title, evidence
    block) its title was closer to, then its own evidence block last."""
    head = REPAIR_INSTRUCTIONS.format(
        why=WHY[why].format(cid=cid, title=title), cid=cid, n=n_titles, topic=_topic(ctx), words=words
    )
    shown = [f'--- Contrast cluster {c} (titled "{t}"; do not title it) ---\n' + _body(b) for c, t, b in contrast]
    return [_system(ctx.dataset.modality), {"role": "user", "content": head + "\n" + "\n\n".join([*shown, block])}]


def _body(block: str) -> str:
    """A contrast cluster's evidence: its block without the header and without its own anchor line."""
    return "\n".join(line for line in block.split("\n")[1:] if not line.startswith("Title must contain:"))


def item_messages(modality: str, ids: list[str], texts: list[str], topic_seed: str | None) -> list[dict[str, str]]:
    """The chat messages asking for a title and description of each item (description mode)."""
    topic = f" Orient them towards the theme '{topic_seed}' where relevant." if topic_seed else ""
    head = ITEM_INSTRUCTIONS.format(n=len(ids), topic=topic, ids=", ".join(ids))
    body = "\n\n".join(f'### Item {cid}\n"{t}"' for cid, t in zip(ids, texts))
    return [_system(modality), {"role": "user", "content": head + "\n" + body}]
