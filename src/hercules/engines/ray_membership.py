"""The membership of every item written from the level-1 label blocks in Ray's object store.

One Ray task per label block (the blocks :mod:`hercules.engines.ray_kmeans` left in the store)
applies the few labels the driver changed afterwards (empty-cluster re-seeding), maps the k-means
labels through the size ordering of level 1 and the parent arrays of the levels above (k-long,
broadcast once), and encodes its rows as one Parquet part (``row``, ``id``, ``L1`` ... ``Ln``,
rows sorted). The driver writes each part's bytes to the spill folder as it arrives: it holds one
part at a time, never the table. See :mod:`hercules.engines.membership`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from tqdm.auto import tqdm

from hercules.engines.membership import PART, MembershipParts
from hercules.hierarchy.tree import Hierarchy

log = logging.getLogger(__name__)

#: Seconds and parts of the last write (logged; read by benchmarks/bench_ray.py).
last_timings: dict[str, float] = {}


def apply_fix(rows: np.ndarray, labels: np.ndarray, fix: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``labels`` of ``rows`` with the rows the driver relabelled after the pass (``fix``: sorted rows, labels)."""
    labels = labels.copy()
    if len(fix[0]):
        pos = np.minimum(np.searchsorted(fix[0], rows), len(fix[0]) - 1)
        hit = fix[0][pos] == rows
        labels[hit] = fix[1][pos[hit]]
    return labels


@ray.remote
def _part(block: dict[str, np.ndarray], ids: np.ndarray, maps: list[np.ndarray], fix: tuple[np.ndarray, np.ndarray]) -> bytes:
    order = np.argsort(block["row"], kind="stable")
    rows = block["row"][order]
    lab = apply_fix(rows, block["label"][order], fix)
    cols: dict[str, Any] = {"row": rows.astype(np.int64), "id": ids[rows]}
    for t, m in enumerate(maps, start=1):
        lab = m[lab]
        cols[f"L{t}"] = lab.astype(np.int32)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(cols), sink)
    return sink.getvalue().to_pybytes()


def level1_map(km_labels: np.ndarray, k: int, parent: np.ndarray) -> np.ndarray | None:
    """The map k-means label -> level-1 cluster (the size ordering), or None when the level-1 labels are not a
    relabelling of the k-means labels (the resampling refinement moved items on the driver)."""
    rank = np.zeros(k, dtype=np.int32)
    rank[km_labels] = parent
    return rank if np.array_equal(rank[km_labels], parent) else None


def write_membership(
    label_refs: list[Any],
    fix: tuple[np.ndarray, np.ndarray],
    rank: np.ndarray,
    hierarchy: Hierarchy,
    ids: np.ndarray,
    progress: bool,
) -> MembershipParts:
    """The membership parts of ``hierarchy`` from the k-means label blocks (``fix``: rows relabelled after the pass,
    sorted, and their labels; ``rank``: :func:`level1_map`)."""
    t0 = time.perf_counter()
    parts = MembershipParts.spill(hierarchy)
    maps = [rank] + [hierarchy.level(t).parent.astype(np.int32) for t in range(2, hierarchy.depth + 1)]
    args = (ray.put(ids), ray.put(maps), ray.put(fix))
    write_parts([_part.remote(b, *args) for b in label_refs], parts.path, "membership (ray)", progress)
    last_timings.clear()
    last_timings.update(write=time.perf_counter() - t0, parts=len(label_refs))
    log.info(
        "ray: membership of %d items written as %d Parquet parts in %.2f s",
        hierarchy.n_items,
        len(label_refs),
        last_timings["write"],
    )
    return parts


def write_parts(pending: list[Any], folder: Path, desc: str, progress: bool) -> None:
    """Each task's Parquet bytes written to ``folder/part-NNNNN.parquet`` (task i: part i) as they arrive: the driver
    holds one part at a time."""
    index = {ref: i for i, ref in enumerate(pending)}
    with tqdm(total=len(pending), desc=desc, unit="part", disable=not progress) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            (folder / PART.format(index[done[0]])).write_bytes(ray.get(done[0]))
            bar.update(1)
