"""Judges: who answers the two kinds of questions guidance asks about items.

* a *triplet* ``(a, b, c)``: which of ``b`` and ``c`` is closer to ``a`` in the sense the user
  cares about? Answer 0 (``b``), 1 (``c``) or -1 (no usable answer);
* a *pair* ``(a, b)``: are ``a`` and ``b`` in the same category? Answer 1, 0 or -1.

Questions are (m, 3) / (m, 2) arrays of item indices; answers are int8 arrays. Every judge
counts what it was asked in ``stats`` (questions, and for the LLM judge calls, cache hits and
tokens), so a run can report its cost.

Two judges ship: :class:`LabelJudge` (``labels:COLUMN[:NOISE]``: a label column of the input,
answers flipped at random with probability NOISE, seeded) and the LLM judge
(:mod:`hercules.guidance.llm_judge`, ``llm``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from hercules.data.dataset import Dataset, InputError


class Judge(Protocol):
    """Anything with these two methods and a ``stats`` dict can guide a fit."""

    name: str
    stats: dict[str, Any]

    def triplets(self, questions: np.ndarray) -> np.ndarray: ...

    def pairs(self, questions: np.ndarray) -> np.ndarray: ...


class LabelJudge:
    """Answers from known labels: the closer candidate is the one with the anchor's label.

    A triplet where both or neither candidate shares the anchor's label has no answer (-1).
    ``noise``: the fraction of answers flipped at random (seeded), to simulate a judge of known
    accuracy (``noise=0.5`` is a coin).
    """

    def __init__(self, labels: Any, noise: float = 0.0, seed: int | None = 0, name: str = "labels") -> None:
        if not 0.0 <= noise <= 1.0:
            raise InputError(f"the judge's noise must be a fraction between 0 and 1, got {noise}")
        codes, _ = _codes(labels)
        self.codes = codes
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)
        self.name = name
        self.stats: dict[str, Any] = {"triplets": 0, "pairs": 0}

    def _flip(self, answers: np.ndarray) -> np.ndarray:
        flip = (self.rng.random(len(answers)) < self.noise) & (answers >= 0)
        answers[flip] = 1 - answers[flip]
        return answers

    def triplets(self, questions: np.ndarray) -> np.ndarray:
        q = np.asarray(questions, dtype=np.int64).reshape(-1, 3)
        self.stats["triplets"] += len(q)
        la, lb, lc = (self.codes[q[:, i]] for i in range(3))
        ans = np.full(len(q), -1, dtype=np.int8)
        ans[(la == lb) & (la != lc)] = 0
        ans[(la == lc) & (la != lb)] = 1
        return self._flip(ans)

    def pairs(self, questions: np.ndarray) -> np.ndarray:
        q = np.asarray(questions, dtype=np.int64).reshape(-1, 2)
        self.stats["pairs"] += len(q)
        ans = (self.codes[q[:, 0]] == self.codes[q[:, 1]]).astype(np.int8)
        return self._flip(ans)


def _codes(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(labels, dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values], dtype=bool)
    if missing.any():
        raise InputError(
            f"the judge's label column has {int(missing.sum())} missing value(s) (rows {np.flatnonzero(missing)[:10].tolist()})"
        )
    uniq, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64), uniq


def parse_guide(spec: str) -> tuple[str, str | None, float]:
    """``"llm"`` -> ("llm", None, 0); ``"labels:COL[:NOISE]"`` -> ("labels", COL, NOISE); else a clear error."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"guide must be 'llm' or 'labels:COLUMN[:NOISE]', got {spec!r}")
    kind, _, rest = spec.strip().partition(":")
    if kind == "llm" and not rest:
        return "llm", None, 0.0
    if kind == "labels" and rest:
        column, _, noise = rest.rpartition(":") if _is_number(rest.rpartition(":")[2]) else (rest, "", "0")
        if not column:
            raise ValueError(f"guide {spec!r}: name the label column, e.g. labels:category:0.1")
        value = float(noise)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"guide {spec!r}: NOISE is a fraction of answers flipped, between 0 and 1")
        return "labels", column, value
    raise ValueError(f"guide must be 'llm' or 'labels:COLUMN[:NOISE]' (e.g. labels:category:0.1), got {spec!r}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def label_judge(ds: Dataset, column: str, noise: float, seed: int | None) -> LabelJudge:
    """The label judge over a dataset's metadata column (a clear error if there is none)."""
    if ds.metadata is None or column not in ds.metadata.columns:
        have = [] if ds.metadata is None else list(ds.metadata.columns)
        raise InputError(f"guide labels:{column}: the input has no column {column!r} (other columns: {have})")
    return LabelJudge(ds.metadata[column].to_numpy(), noise=noise, seed=seed, name=f"labels:{column}:{noise:g}")
