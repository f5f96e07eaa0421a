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
import uuid
from typing import Any

import numpy as np
import ray
from tqdm.auto import tqdm

from hercules.space import ClusteringSpace, space_from_state

log = logging.getLogger(__name__)

_SPACES: dict[str, ClusteringSpace] = {}  # per worker process: the fitted space of a run, rebuilt once
#: Seconds of the last distributed placement (logged; read by benchmarks/bench_ray.py).
last_timings: dict[str, float] = {}


@ray.remote
def _place_block(block: dict[str, np.ndarray], key: str, state: tuple, fit_rows: np.ndarray, fit_Y: np.ndarray) -> dict:
    space = _SPACES.get(key)
    if space is None:
        _SPACES.clear()
        space = _SPACES[key] = space_from_state(*state)
    rows = block["row"]
    Y = space.transform(block["vector"])
    pos = np.minimum(np.searchsorted(fit_rows, rows), len(fit_rows) - 1)
    hit = fit_rows[pos] == rows  # sample rows keep their UMAP coordinates, as in-process
    Y[hit] = fit_Y[pos[hit]]
    return {"row": rows, "vector": Y}


def place_on_blocks(
    space: Any, X: np.ndarray, blocks: list[Any], random_state: int | None, progress: bool = True
) -> tuple[np.ndarray, list[Any]]:
    """(the items in the fitted ``space`` on the driver, the same rows as object-store blocks)."""
    t0 = time.perf_counter()
    fit_rows, fit_Y = space.fit_reference(X, random_state)
    t1 = time.perf_counter()
    key = uuid.uuid4().hex
    args = (ray.put(space.to_state()), ray.put(np.asarray(fit_rows)), ray.put(fit_Y))
    refs = [_place_block.remote(b, key, *args) for b in blocks]
    Y = np.empty((len(X), fit_Y.shape[1]), dtype=np.float32)
    seen = 0
    with tqdm(total=len(refs), desc="clustering space (ray)", unit="block", disable=not progress) as bar:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            part = ray.get(done[0])
            Y[part["row"]] = part["vector"]
            seen += len(part["row"])
            bar.update(1)
    if seen != len(X):
        raise RuntimeError(f"ray: {seen} of {len(X)} rows placed in the clustering space")
    last_timings.clear()
    last_timings.update(fit_reference=t1 - t0, place=time.perf_counter() - t1, rows=len(X), blocks=len(refs))
    log.info(
        "ray: clustering space of %d rows in %d blocks: %s", len(X), len(refs), {k: round(v, 2) for k, v in last_timings.items()}
    )
    return Y, refs
