"""What a Run request may ask for, and the background work it starts.

Every field of a Run request is checked against what the form offers before anything runs:
the embedder and LLM specs must be among the offered choices (a forged ``hashing:100000000``
never reaches the embedder registry), the columns must be the upload's own, and the levels go
through :func:`hercules.pipeline.policy.parse_levels` whose message is shown to the user.

Uploaded tables never name files: their text column is clustered as text, and a column that
looks like image paths is refused with a message (images come only as a zip, extracted inside
the run's own folder).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hercules.app.jobs import Job
from hercules.app.store import Store
from hercules.app.validate import checklist, clip, one_of, opt_str, small_int

log = logging.getLogger(__name__)

DEFAULT_EMBEDDERS = ("auto", "minilm", "wordllama", "hashing")
DEFAULT_LLMS = ("none", "local", "llamacpp:qwen0.5b")
REPRESENTATIONS = ("direct", "description")
MAX_LEVELS = 12
IMAGE_LIKE_SHARE = 0.5  # a column is "image paths" when this share of its sampled values end in an image suffix


@dataclass(frozen=True)
class Choices:
    """The embedder and LLM specs the form offers; the only ones a Run request may use."""

    embedders: tuple[str, ...] = DEFAULT_EMBEDDERS
    llms: tuple[str, ...] = DEFAULT_LLMS


@dataclass(frozen=True)
class RunConfig:
    """A validated Run request."""

    levels: list[int] | str
    representation: str
    embedder: str
    llm: str
    topic_seed: str | None
    resampling: bool
    random_state: int
    text_column: str | None
    labels_column: str | None
    kind: str  # "table" or "images"
    guide: str | None = None  # a judge for guidance: "llm" or "labels:COLUMN[:NOISE]"

    def to_meta(self) -> dict:
        return asdict(self)


def image_like_columns(frame: Any) -> list[str]:
    """Text columns whose values look like image file names: an uploaded table may not use them."""
    from hercules.data.dataset import IMAGE_EXTENSIONS

    out = []
    for c in frame.columns:
        values = [str(v) for v in frame[c].dropna().head(200) if isinstance(v, str)]
        if values:
            share = sum(Path(v.split("?")[0]).suffix.lower() in IMAGE_EXTENSIONS for v in values) / len(values)
            if share >= IMAGE_LIKE_SHARE:
                out.append(str(c))
    return out


def _column(value: Any, columns: list[str], name: str) -> str | None:
    if value is None or value == "":
        return None
    return one_of(value, columns, name)


def validate_run(form: dict[str, Any], meta: dict, choices: Choices) -> RunConfig:
    """A :class:`RunConfig` from the form's values; ``BadRequest`` for values the form cannot send,
    ``ValueError`` with a message for the user otherwise."""
    if not meta.get("upload"):
        raise ValueError("This result was opened, not uploaded: upload data in this tab to start a run.")
    from hercules.pipeline.policy import parse_levels

    levels_text = opt_str(form.get("levels"), "levels", 200) or ""
    levels = parse_levels(levels_text)
    if isinstance(levels, list) and len(levels) > MAX_LEVELS:
        raise ValueError(f"at most {MAX_LEVELS} levels, got {len(levels)}")
    columns = [str(c) for c in meta.get("columns", [])]
    kind = "images" if meta.get("kind") == "images" else "table"
    text_col = _column(form.get("text_column"), columns, "text column")
    if kind == "table":
        text_col = text_col or meta.get("text_default")
        if text_col in meta.get("image_like", []):
            raise ValueError(
                f"Column {clip(text_col, 60)!r} names image files. A table cannot refer to files on the server: "
                "upload the images themselves as a zip."
            )
    rows = meta.get("rows")
    if isinstance(levels, list) and isinstance(rows, int) and levels[0] >= rows:
        raise ValueError(f"level 1 asks for {levels[0]} clusters but the upload has {rows} rows")
    return RunConfig(
        levels=levels,
        representation=one_of(form.get("representation"), REPRESENTATIONS, "representation"),
        embedder=one_of(form.get("embedder"), choices.embedders, "embedder"),
        llm=one_of(form.get("llm") or "none", choices.llms, "LLM"),
        topic_seed=(opt_str(form.get("topic_seed"), "topic seed") or "").strip() or None,
        resampling=bool(checklist(form.get("resampling"), ["on"], "resampling")),
        random_state=small_int(form.get("seed") or 0, "Random seed", 0, 2**32 - 1),
        text_column=text_col,
        labels_column=_column(form.get("labels_column"), columns, "labels column"),
        kind=kind,
        guide=_guide(form.get("guide"), columns, levels),
    )


def _guide(value: Any, columns: list[str], levels: Any) -> str | None:
    """The guide field: empty, ``llm`` or ``labels:COLUMN[:NOISE]`` naming an uploaded column."""
    from hercules.guidance import parse_guide

    text = (opt_str(value, "guide", 200) or "").strip()
    if not text:
        if levels == "guided":
            raise ValueError("levels 'guided' needs a guide (llm, or labels:COLUMN)")
        return None
    kind, column, _ = parse_guide(text)
    if kind == "labels" and column not in columns:
        raise ValueError(f"guide: the upload has no column {clip(str(column), 60)!r}")
    return text


def read_upload(store: Store, rid: str, upload: Path) -> Any:
    """The upload as a DataFrame with text column names; a zip is extracted inside the run's own folder (images only)."""
    from hercules.data.readers import extract_images_zip, read_path

    frame = read_path(extract_images_zip(upload, store.dir(rid)) if upload.suffix.lower() == ".zip" else upload)
    frame.columns = [str(c) for c in frame.columns]  # the form names columns by text
    return frame


def modality_for(config: RunConfig, frame: Any) -> tuple[str, str | None]:
    """Modality and text column: images only from a zip; a table is text (or numbers), never file paths."""
    if config.kind == "images":
        return "image", "path"
    if config.text_column is not None:
        return "text", config.text_column
    import pandas as pd

    if all(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns):
        return "numeric", None
    raise ValueError("choose a text column")


def run_job(store: Store, rid: str, config: RunConfig, job: Job) -> None:
    """The background work of one run: read, fit (progress through ``job.report``), save, evaluate."""
    from hercules import Hercules

    meta = store.meta(rid)
    frame = read_upload(store, rid, store.dir(rid) / str(meta["upload"]))
    modality, text_col = modality_for(config, frame)
    log.info("run %s: %s items, modality %s, levels %s", rid[:8], len(frame), modality, config.levels)
    model = Hercules(
        config.levels,
        representation=config.representation,
        embedder=config.embedder,
        llm=None if config.llm == "none" else config.llm,
        topic_seed=config.topic_seed,
        guide=config.guide,
        resampling=config.resampling,
        random_state=config.random_state,
        text_column=text_col,
        modality=modality,
        missing="drop",
        progress=False,
    )
    job.progress = 0.05
    model.fit(frame, on_progress=job.report)
    result = store.dir(rid) / "result"
    model.save(result)
    labels = config.labels_column
    if labels and labels != text_col and model.dataset_.metadata is not None and labels in model.dataset_.metadata.columns:
        model.evaluate(labels=labels).to_csv(result / "evaluation.csv")
