"""The clustering space over vector blocks in Ray's object store.

A UMAP space (:class:`~hercules.space.ManifoldSpace`) is fitted on its sample on the driver, as
in-process (:meth:`~hercules.space.ManifoldSpace.fit_reference`: the same generator calls, the same
coordinates); the placement of every other item (its k nearest references in a 64-d PCA, the
distance-weighted mean of their coordinates) runs as one Ray task per vector block. Each task
rebuilds the fitted space from its saved state (:meth:`~hercules.space.ClusteringSpace.to_state`,
plain arrays, once per worker process), exactly as a reloaded result does, and keeps the
UMAP coordinates of the sample rows it holds. The space blocks stay in the object store for the
level-1 pass; a copy (n x 5 float32: 20 MB per million items) is gathered on the driver, where the
upper levels start their k-means.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import numpy as np

from hercules.engines.ray_vectors import place_rows
from hercules.space import space_from_state

log = logging.getLogger(__name__)

#: Seconds of the last distributed placement (logged; read by benchmarks/bench_ray.py).
last_timings: dict[str, float] = {}


def place_on_blocks(
    space: Any, X: np.ndarray, blocks: list[Any], random_state: int | None, progress: bool = True
) -> tuple[np.ndarray, list[Any]]:
    """(the items in the fitted ``space`` on the driver, the same rows as object-store blocks)."""
    t0 = time.perf_counter()
    fit_rows, fit_Y = space.fit_reference(X, random_state)
    t1 = time.perf_counter()
    make = partial(space_from_state, *space.to_state())
    Y, refs = place_rows(blocks, len(X), make, fit_rows, fit_Y, "clustering space (ray)", progress)
    last_timings.clear()
    last_timings.update(fit_reference=t1 - t0, place=time.perf_counter() - t1, rows=len(X), blocks=len(refs))
    log.info(
        "ray: clustering space of %d rows in %d blocks: %s", len(X), len(refs), {k: round(v, 2) for k, v in last_timings.items()}
    )
    return Y, refs
