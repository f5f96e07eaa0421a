"""The level policy: how many clusters each level gets, and when the hierarchy stops.

One place for the rule, used by the builder, the CLI and the app.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hercules.clustering.auto_k import AutoKConfig
from hercules.data.dataset import InputError


def parse_levels(value: Any) -> list[int] | str:
    """Validate ``levels``: ``"auto"``, ``"guided"`` (automatic, level 1's k chosen by a judge) or a bottom-up, strictly decreasing list of positive ints.

    Accepts a string (``"100,20,5"``, ``"auto"``) or a sequence. Raises ``ValueError`` with a
    message a user can act on; never truncates (``10.7`` is an error, not 10).
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "guided"):
            return text
        parts = [p.strip() for p in text.split(",")]
        if not text or any(not p for p in parts):
            raise ValueError(f"levels must be comma-separated integers, bottom-up (e.g. 100,20,5), or 'auto'; got {value!r}")
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"levels must be whole numbers, bottom-up (e.g. 100,20,5), or 'auto'; got {value!r}") from None
    if not isinstance(value, Sequence) and not hasattr(value, "__iter__"):
        raise ValueError(f"levels must be a list of ints or 'auto', got {value!r}")
    levels = list(value)
    if not levels:
        raise ValueError("levels must not be empty (use 'auto' to choose k automatically)")
    for k in levels:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            if isinstance(k, numbers.Real) and float(k).is_integer():
                continue
            raise ValueError(f"levels must be whole numbers; got {k!r} in {levels}")
    levels = [int(k) for k in levels]
    if any(k < 1 for k in levels):
        raise ValueError(f"every level needs at least 1 cluster, got {levels}")
    if any(b >= a for a, b in zip(levels, levels[1:])):
        raise ValueError(f"levels are bottom-up and must strictly decrease, e.g. [100, 20, 5]; got {levels}")
    return levels


@dataclass(frozen=True)
class LevelPolicy:
    """Fixed k per level, or automatic k with its bounds and stopping rule."""

    fixed: tuple[int, ...] | None
    auto: AutoKConfig
    guided: bool = False  # levels="guided": a judge's pair answers choose level 1's k (hercules.guidance)

    @classmethod
    def from_levels(cls, levels: Any, auto: AutoKConfig) -> LevelPolicy:
        parsed = parse_levels(levels)
        return cls(None if isinstance(parsed, str) else tuple(parsed), auto, parsed == "guided")

    @property
    def planned(self) -> int | None:
        """Number of levels when known in advance (fixed k), else None."""
        return None if self.fixed is None else len(self.fixed)

    def check_items(self, n: int) -> None:
        """Clear error before any work when the data cannot hold the requested levels."""
        if n < 3:
            raise InputError(f"need at least 3 items to build a hierarchy, got n_samples={n}")
        if self.fixed is not None and self.fixed[0] >= n:
            raise InputError(
                f"level 1 asks for {self.fixed[0]} clusters but there are only {n} items; "
                f"use fewer clusters (at most {n - 1}) or levels='auto'"
            )

    def fixed_k(self, t: int, n_nodes: int) -> int | None:
        """k for level ``t`` under fixed levels (None once the list is used up)."""
        assert self.fixed is not None
        if t > len(self.fixed):
            return None
        k = self.fixed[t - 1]
        if k >= n_nodes:
            raise InputError(f"level {t} asks for {k} clusters but level {t - 1} has only {n_nodes} nodes")
        return k

    def should_stop(self, t: int, n_nodes: int) -> bool:
        """Automatic k: stop before level ``t`` when the level below is already a fine top level,
        or too small to branch at least ``min_branching`` ways."""
        if t == 1:
            return False
        cfg = self.auto
        return n_nodes <= cfg.top_max or n_nodes < 2 * cfg.min_branching
