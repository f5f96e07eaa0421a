"""Guidance in the fit: the judge from the estimator's parameters, stage 1 into the encoder (its
adapter reshapes the level-0 vectors, for predict and update too), stage 2 as the builder's k
for ``levels="guided"``. The method lives in :mod:`hercules.guidance`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hercules.data.dataset import Dataset, InputError
from hercules.guidance import Guide, GuideConfig, LLMJudge, label_judge, parse_guide
from hercules.guidance.adapter import fit_adapter
from hercules.guidance.finetune import can_tune, finetune
from hercules.labeling.base import Labeler
from hercules.pipeline.encoder import L0Encoder
from hercules.pipeline.policy import LevelPolicy

GuideK = Callable[[int, np.ndarray, np.ndarray | None, np.ndarray | None], int | None]


def check_guide(guide: Any, triplets: Any, pairs: Any, levels: Any) -> None:
    """The guidance parameters, checked before any work (ValueError says what is wrong)."""
    if guide is not None and guide != "none":
        parse_guide(guide)
    for name, value in (("guide_triplets", triplets), ("guide_pairs", pairs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0 (questions asked), got {value!r}")
    if isinstance(levels, str) and levels.strip().lower() == "guided" and (guide is None or guide == "none"):
        raise ValueError("levels='guided' needs a judge: pass guide='llm' or guide='labels:COLUMN[:NOISE]'")


def make_guide(params: dict[str, Any], ds: Dataset, labeler: Labeler | None = None) -> Guide | None:
    """The judge named by ``guide`` (None without one); errors name what is missing."""
    spec = params.get("guide")
    if spec is None or spec == "none":
        return None
    kind, column, noise = parse_guide(spec)
    if kind == "labels":
        assert column is not None
        judge: Any = label_judge(ds, column, noise, params.get("random_state"))
    else:
        from hercules.labeling.llm import LLMLabelerOptions
        from hercules.llm import get_llm

        llm = getattr(labeler, "llm", None) or get_llm(params.get("llm"))
        if llm is None:
            raise InputError("guide='llm' asks an LLM: pass llm=... (e.g. 'local' or 'openai:gpt-4o-mini')")
        if ds.modality in ("vectors", "numeric") or (ds.modality == "image" and ds.descriptions is None):
            raise InputError(f"guide='llm' needs items an LLM can read (texts or described images), not {ds.modality}")
        o = LLMLabelerOptions.parse(params.get("llm_options") or {})
        judge = LLMJudge(
            llm,
            ds.item_texts() if ds.texts is None else ds.texts,
            topic_seed=params.get("topic_seed"),
            policy=o.retry_policy(),
            cache=o.response_cache(),
            concurrency=o.concurrency,
            log_path=None if o.log_path is None else str(o.log_path),
            progress=bool(params.get("progress", True)),
            both_orders=o.judge_both_orders,
        )
    return Guide(judge, GuideConfig.from_params(params))


def apply_guidance(
    guide: Guide, encoder: L0Encoder, vectors: np.ndarray, policy: LevelPolicy, ds: Dataset, embeddings: Any = None
) -> np.ndarray:
    """Stage 1: texts embedded by a sentence-transformers model (MiniLM) are re-embedded by a copy
    fine-tuned on the judge's answers (``guide_tune``, the default), then a linear adapter learned from
    the same answers on the tuned vectors; other vectors (images, numbers, precomputed, other
    embedders, or ``guide_tune=False``) get the adapter alone. Unchanged when the guard refuses the
    answers. Both together beat either alone on Banking77 and HWU64 (benchmarks/bench_guidance.py)."""
    W = guide.perspective(vectors, policy.fixed[0] if policy.fixed else None)
    if W is None or guide.answers is None:
        return vectors
    texts = ds.texts if (ds.modality == "text" and embeddings is None and encoder.config.representation == "direct") else None
    if not guide.config.tune or texts is None or not can_tune(encoder.text_embedder()):
        encoder.adapter_ = W
        guide.report["triplets"]["method"] = "adapter"
        return encoder.adapt(vectors)
    tuned = finetune(
        encoder.text_embedder(), list(texts), guide.answers, guide.config.random_state, progress=encoder.config.progress
    )
    encoder.use_tuned(str(tuned.path), tuned.model_id)
    info = guide.report["triplets"]
    info.update(method="finetune+adapter", tune_seconds=round(tuned.seconds, 1), tune_reused=tuned.reused)
    vectors = encoder.fit_transform(ds)  # re-embedded by the tuned model, then the adapter learned on them
    encoder.adapter_ = fit_adapter(vectors, guide.answers, l2=info["l2"]).W
    return encoder.adapt(vectors)


def guided_k(guide: Guide, policy: LevelPolicy, vectors: np.ndarray) -> GuideK | None:
    """Stage 2 for ``levels="guided"``: the judge picks level 1's k (None: the automatic k stays).

    The merge tree is built on the (guided) level-0 ``vectors``, not in the clustering space: in a probe
    (90% judge, 2 seeds) the UMAP space's merges chose 114 for Banking77's 77 where the level-0 vectors chose 76-78.
    Upper levels keep the automatic k: one "same category?" question cannot tell two granularities apart.
    """
    if not policy.guided:
        return None

    def choose(t: int, X: np.ndarray, sizes: np.ndarray | None, item_node: np.ndarray | None) -> int | None:
        return guide.choose_k(vectors, None, None, policy.auto) if t == 1 else None

    return choose
