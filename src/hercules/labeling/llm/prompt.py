"""What the LLM is asked and how its answer is read: instructions, messages, the JSON schema
of an answer and a tolerant parser (fences, chatter and bad entries around valid JSON)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from hercules.hierarchy import ClusterLabel
from hercules.labeling.base import LevelContext

#: Completion tokens budgeted per cluster in a JSON answer (title <= 60 chars, description <= 300).
PER_ANSWER_TOKENS = 90

SYSTEM = "You name clusters of {modality} data for an analyst. Answer with one JSON object only."
INSTRUCTIONS = """Write a title (at most 6 words) and a description (1-2 sentences) for EACH of the {n} clusters below (hierarchy level {level}; level 1 groups single items, higher levels group clusters).
- Base them only on the evidence shown: items, keywords, subclusters, statistics.
- Each title must name what sets that cluster apart from the similar clusters listed with it; never reuse a title.
- No generic titles such as "Miscellaneous" or "Various topics".{parents}{topic}
Return JSON: {{"<cluster id>": {{"title": "...", "description": "..."}}, ...}} with exactly these ids: {ids}.
"""
ITEM_INSTRUCTIONS = (
    "Write a title (at most 6 words) and a one-sentence description of EACH of the {n} items below.{topic}\n"
    'Return JSON: {{"<item id>": {{"title": "...", "description": "..."}}}} with exactly these ids: {ids}.\n'
)


class _Label(BaseModel):
    title: str
    description: str


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


def parse_labels(text: str, ids: list[str]) -> dict[str, ClusterLabel]:
    """Valid labels for the expected ``ids``; anything else in the answer is ignored."""
    data = extract_json(text)
    if data is None:
        return {}
    norm = {str(k).strip().strip("#").strip(): v for k, v in data.items()}
    out = {}
    for cid in ids:
        try:
            lab = _Label.model_validate(norm.get(cid))
        except ValidationError:
            continue
        title, desc = " ".join(lab.title.split()), " ".join(lab.description.split())
        if re.fullmatch(r"(?i)(cluster\s*)?L?\d+(-\d+)?", title):  # the id echoed back is not a title
            continue
        if title and desc:
            out[cid] = ClusterLabel(title=title[:100], description=desc[:600], source="llm")
    return out


def label_schema(ids: list[str]) -> dict[str, Any]:
    """JSON schema of an answer holding exactly ``ids`` (sent where the backend supports it)."""
    item = {
        "type": "object",
        "properties": {"title": {"type": "string", "maxLength": 60}, "description": {"type": "string", "maxLength": 300}},
        "required": ["title", "description"],
        "additionalProperties": False,
    }
    return {"type": "object", "properties": {i: item for i in ids}, "required": list(ids), "additionalProperties": False}


def _system(modality: str) -> dict[str, str]:
    return {"role": "system", "content": SYSTEM.format(modality={"vectors": "vector"}.get(modality, modality))}


def cluster_messages(ctx: LevelContext, ids: list[str], blocks: list[str], note: str | None = None) -> list[dict[str, str]]:
    """The chat messages naming the clusters ``ids`` from their evidence ``blocks``; ``note``
    (a reason to ask again, e.g. duplicate titles) goes right after the instructions."""
    topic = f"\n- Orient titles and descriptions towards the theme '{ctx.topic_seed}' where relevant." if ctx.topic_seed else ""
    parents = (
        "\n- A cluster with subclusters needs a broader title that covers them all; never copy a subcluster's title."
        if ctx.child_labels is not None
        else ""
    )
    head = INSTRUCTIONS.format(n=len(ids), level=ctx.level, topic=topic, parents=parents, ids=", ".join(ids))
    if note:
        head += note + "\n"
    return [_system(ctx.dataset.modality), {"role": "user", "content": head + "\n" + "\n\n".join(blocks)}]


def item_messages(modality: str, ids: list[str], texts: list[str], topic_seed: str | None) -> list[dict[str, str]]:
    """The chat messages asking for a title and description of each item (description mode)."""
    topic = f" Orient them towards the theme '{topic_seed}' where relevant." if topic_seed else ""
    head = ITEM_INSTRUCTIONS.format(n=len(ids), topic=topic, ids=", ".join(ids))
    body = "\n\n".join(f'### Item {cid}\n"{t}"' for cid, t in zip(ids, texts))
    return [_system(modality), {"role": "user", "content": head + "\n" + body}]
