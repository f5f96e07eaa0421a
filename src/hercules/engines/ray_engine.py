"""The Ray engine: reading and text embedding as Ray Data pipelines, the clustering space and the level-1
k-means pass over the vector blocks.

* Reading a path: :mod:`hercules.engines.ray_read` (``ray.data.read_csv/read_json/read_parquet``).

* Embedding: the texts become a Ray Dataset (a ``row`` column keeps their order), embedded by
  ``map_batches`` on an actor pool, one actor per CPU of the cluster, each holding the embedder
  once (rebuilt from its spec, or unpickled) and the embedding cache
  (:class:`~hercules.embeddings.cache.EmbeddingCache` at the driver's cache path, so on one
  machine every actor and the driver share one SQLite file; on several machines each node has
  its own). Ray Data restarts a killed actor and re-runs its batches. The vector blocks stay in
  the object store for the level-1 pass, and Ray tasks write them into one file the driver maps
  read-only (:mod:`hercules.engines.ray_vectors`), so the driver reads only sampled rows; if the
  file's folder is not visible to every node, they are gathered on the driver (see docs/SCALING.md).
* The centroids shown (level-0 item means, every level) from per-block sums, the labelling evidence
  (:mod:`hercules.engines.ray_evidence`) and the 2-D map's placement of every item run over the blocks.
* The UMAP clustering space: fitted on its sample on the driver, every block placed by a Ray task
  (:mod:`hercules.engines.ray_space`); its blocks feed level 1.
* Level 1: :mod:`hercules.engines.ray_kmeans` (the sampled fit on the driver, the assignment
  and the per-centroid sums as Ray tasks over the blocks).
* Everything else runs in the fitting process, as with the local engine.

Connecting: ``address`` (or ``$RAY_ADDRESS``) names a running cluster; without either a local Ray
is started for the fit and shut down after it. A Ray the caller already initialised is used as
is and left running. Workers get the driver's ``hercules`` source on their ``PYTHONPATH`` (a
path that does not exist on a node is ignored there, where the installed package is used).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray

from hercules.clustering.kmeans import KMeansResult, kmeans
from hercules.common.groups import onehot
from hercules.data.dataset import Dataset
from hercules.embeddings.base import Embedder, EmbeddingError
from hercules.embeddings.cache import EmbeddingCache
from hercules.engines.membership import MembershipParts
from hercules.engines.ray_items import held_in_blocks, spill_metadata, spill_texts
from hercules.hierarchy.tree import Hierarchy
from hercules.space import ClusteringSpace

log = logging.getLogger(__name__)

#: Fewer inputs than this are embedded in-process (cluster titles, descriptions): shipping costs more.
MIN_ITEMS = 10_000
#: Rows per embedding call of an actor.
BATCH_ROWS = 1024
#: Target size of one vector block in the object store.
BLOCK_BYTES = 64 << 20


def worker_env() -> dict[str, Any]:
    """A runtime env that puts this ``hercules`` source first on the workers' ``PYTHONPATH``."""
    import hercules

    src = str(Path(hercules.__file__).resolve().parents[1])
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join([src, *rest])}}


class _EmbedBatch:
    """One actor of the embedding pool: the embedder is built once, then called per batch."""

    def __init__(self, how: str, what: Any, cache_path: str | None) -> None:
        from hercules.embeddings import get_embedder

        cache = EmbeddingCache(cache_path) if cache_path else None
        if how == "spec":
            self.embedder = get_embedder(what, cache=cache, progress=False)
        else:
            self.embedder = ray.cloudpickle.loads(what)
            self.embedder.cache, self.embedder.progress = cache, False

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def _payload(embedder: Embedder) -> tuple[str, Any]:
    """How actors rebuild the embedder: its registry spec, else the pickled instance (cache detached)."""
    spec = getattr(embedder, "spec", None)
    if isinstance(spec, str):
        return "spec", spec
    cache = embedder.cache
    embedder.cache = None
    try:
        return "pickle", ray.cloudpickle.dumps(embedder)
    finally:
        embedder.cache = cache


class RayEmbedder(Embedder):
    """The same embedder (``model_id``, vectors, cache), run on the engine's Ray cluster for large inputs."""

    def __init__(self, inner: Embedder, engine: RayEngine) -> None:
        super().__init__(cache=inner.cache, progress=inner.progress)
        self.inner, self.engine = inner, engine
        self.model_id, self.batch_size = inner.model_id, inner.batch_size
        self.spec = getattr(inner, "spec", None)

    def __getattr__(self, name: str) -> Any:  # anything else a caller asks of the model
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def identity(self, item: str) -> str:
        return self.inner.identity(item)

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        return self.inner.embed(items)

    def embed(self, items: Any, desc: str = "embedding") -> np.ndarray:
        source = items
        if held_in_blocks(items) is None or self.engine.closed:  # texts in the object store stay there
            items = list(items)
            if len(items) < self.engine.min_items or self.engine.closed:
                return self.inner.embed(items, desc=desc)
        return self.engine.embed(self.inner, items, desc, source)


def _level1_to(parents: list[np.ndarray], k1: int) -> np.ndarray:
    """(k1,) each level-1 cluster's cluster at level t (``parents``: the parent arrays of levels 1..t)."""
    up = np.arange(k1)
    for p in parents[1:]:
        up = p[up]
    return up


class RayEngine:
    """See the module docstring. ``min_items``: smaller inputs are embedded in-process."""

    name = "ray"

    def __init__(self, address: str | None = None, *, progress: bool = True, min_items: int = MIN_ITEMS) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or "local"
        self.progress = progress
        self.min_items = min_items
        self.closed = False
        self.spill = True  # the embedded vectors: a file written by Ray tasks, mapped by the driver (ray_vectors)
        self._owned = False
        self._blocks: dict[int, tuple[np.ndarray, list[Any]]] = {}  # id(driver array) -> (array, block refs)
        self._level1: tuple[np.ndarray, int, list[Any], tuple] | None = None  # k-means labels, k, label blocks, fix
        self._root: dict[int, list[Any] | None] = {}  # id(block list) -> the embedding blocks of the same rows
        self._level1_root: list[Any] | None = None
        self._l1_sums: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (level-1 map, sums, counts)
        self._texts: tuple[Any, list[Any], int] | None = None  # (texts embedded, their blocks, how many)
        self._terms: tuple[np.ndarray, Any, np.ndarray] | None = None  # (level-1 parents, counts, vocabulary)

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        if self.closed:
            raise RuntimeError("this Ray engine is closed")
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"runtime_env": worker_env(), "logging_level": logging.WARNING}
        if self.address == "local":
            kwargs["include_dashboard"] = False
        log.info("ray: connecting to %s", "a new local Ray" if self.address == "local" else self.address)
        ray.init(address=self.address, **kwargs)
        self._owned = True
        ray.data.DataContext.get_current().enable_progress_bars = self.progress

    def close(self) -> None:
        self._blocks.clear()
        self._root.clear()
        self._level1 = self._level1_root = self._l1_sums = self._texts = self._terms = None
        if self._owned and ray.is_initialized():
            ray.shutdown()
        self._owned, self.closed = False, True

    def n_workers(self) -> int:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    # ------------------------------------------------------------------ reading, embedding
    def read(self, path: str | os.PathLike) -> Any:
        """``path`` read as a Ray Data pipeline (:mod:`hercules.engines.ray_read`): a table of rows stays in the object
        store (:class:`~hercules.engines.ray_items.RayTable`, prepared there by :func:`hercules.data.prepare`)."""
        from hercules.engines.ray_read import read_with_ray

        self.connect()
        return read_with_ray(path, owner=self)

    def block_rows(self, n: int) -> int:
        """Rows per text block of the embedding for ``n`` texts (about 4 blocks per worker)."""
        return max(BATCH_ROWS, min(50_000, math.ceil(n / (4 * self.n_workers()))))

    def release(self, ds: Dataset) -> None:
        """The texts (and metadata) of ``ds`` still in the object store written as Parquet parts on the driver's disk
        (:func:`~hercules.engines.ray_items.spill_texts`), read from there once the cluster is gone."""
        if held_in_blocks(ds.texts) is not None and ray.is_initialized():
            spill_texts(ds.texts, self.progress)  # type: ignore[arg-type]
            spill_metadata(ds.metadata, self.progress)

    def wrap_embedder(self, embedder: Embedder) -> Embedder:
        return embedder if isinstance(embedder, RayEmbedder) else RayEmbedder(embedder, self)

    def embed(self, embedder: Embedder, items: list[str], desc: str, source: Any = None) -> np.ndarray:
        """Embed ``items`` on the cluster; returns the driver's (mapped) vectors and keeps the blocks for level 1, and
        the text blocks (for the keyword counts of ``source``, the list the texts came from)."""
        self.connect()
        n, workers, blocks = len(items), self.n_workers(), held_in_blocks(items)
        if blocks is not None:  # read on the cluster: the blocks (row, text) are already in the store
            text_refs = blocks.refs
        else:
            rows = self.block_rows(n)
            text_refs = [
                ray.put(pd.DataFrame({"row": np.arange(s, min(s + rows, n)), "text": items[s : s + rows]}))
                for s in range(0, n, rows)
            ]
        cache = embedder.cache
        cache_path = str(cache.path) if isinstance(cache, EmbeddingCache) else None
        log.info("ray: embedding %d texts in %d blocks on %d actors (%s)", n, len(text_refs), workers, embedder.model_id)
        self._texts = (source, text_refs, n)
        out = ray.data.from_pandas_refs(text_refs).map_batches(
            _EmbedBatch,
            fn_constructor_args=(*_payload(embedder), cache_path),
            batch_size=BATCH_ROWS,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        refs = out.materialize().to_numpy_refs()
        from hercules.engines.ray_vectors import gather_rows, vectors_file

        vectors = vectors_file(refs, n, self.progress) if self.spill else None
        if vectors is None:
            try:
                vectors = gather_rows(refs, n, f"{desc} (gather)", self.progress)
            except RuntimeError as e:
                raise EmbeddingError(str(e)) from None
        self._blocks[id(vectors)] = (vectors, refs)
        self._root[id(refs)] = refs  # level-0 blocks: the rows every block derived from them keeps
        return vectors

    # ------------------------------------------------------------------ clustering space, level 1
    def known_blocks(self, X: np.ndarray) -> list[Any] | None:
        """The object-store blocks ``X`` was gathered from (embedded or placed on the cluster), if any."""
        known = self._blocks.get(id(X))
        return known[1] if known is not None and known[0] is X else None

    def fit_space(self, space: ClusteringSpace, X: np.ndarray, random_state: int | None) -> np.ndarray:
        """A UMAP space of vectors held in blocks: fitted on its sample here, every block placed by a Ray task
        (:mod:`hercules.engines.ray_space`); vectors only on the driver (given, not embedded here) stay in-process."""
        blocks = self.known_blocks(X)
        if blocks is None or not hasattr(space, "fit_reference"):
            return space.fit_transform(X, random_state)
        from hercules.engines.ray_space import place_on_blocks

        Y, refs = place_on_blocks(space, X, blocks, random_state, self.progress)
        self._blocks[id(Y)] = (Y, refs)
        self._root[id(refs)] = self._root.get(id(blocks))  # one space block per vector block, same rows
        return Y

    def blocks_of(self, X: np.ndarray) -> list[Any]:
        """The object-store blocks of ``X``: those it was gathered from, else ``X`` put in ~64 MB blocks."""
        known = self.known_blocks(X)
        if known is not None:
            return known
        self.connect()
        rows = max(1, BLOCK_BYTES // max(1, 4 * X.shape[1]))
        refs = [
            ray.put(
                {"row": np.arange(s, min(s + rows, len(X))), "vector": np.ascontiguousarray(X[s : s + rows], dtype=np.float32)}
            )
            for s in range(0, len(X), rows)
        ]
        self._blocks[id(X)] = (X, refs)
        return refs

    def kmeans(self, X: np.ndarray, k: int, **kwargs: Any) -> KMeansResult:
        from hercules.engines.ray_kmeans import distributed_kmeans, is_distributed

        if not is_distributed(len(X), k, kwargs):
            return kmeans(X, k, **kwargs)  # the fit sample is all of X: nothing to distribute
        keep: dict[str, Any] = {}
        blocks = self.blocks_of(X)
        result = distributed_kmeans(blocks, X.shape[0], X.shape[1], k, progress=self.progress, keep=keep, **kwargs)
        self._level1 = (result.labels, k, keep["labels"], keep["fix"])
        self._level1_root = self._root.get(id(blocks))
        return result

    def _label_maps(self, parents: list[np.ndarray]) -> list[np.ndarray] | None:
        """k-means label -> level-t cluster maps (level 1's ordering, then the parents of levels 2..t), if the
        level-1 labels are still a relabelling of the k-means labels."""
        if self._level1 is None or not parents or len(parents[0]) != len(self._level1[0]):
            return None
        from hercules.engines.ray_membership import level1_map

        rank = level1_map(self._level1[0], self._level1[1], parents[0])
        return None if rank is None else [rank, *(p.astype(np.int32) for p in parents[1:])]

    def _over_blocks(self, vectors: np.ndarray, parents: list[np.ndarray]) -> tuple[list[Any], list[np.ndarray]] | None:
        """(the level-0 blocks of ``vectors``, the k-means label -> level-t maps) when ``vectors`` were embedded on the
        cluster and level 1 ran over blocks of the same rows; else None."""
        maps = self._label_maps(parents)
        root = self.known_blocks(vectors)
        if maps is None or root is None or self._level1_root is not root:
            return None
        return root, maps

    def representatives(self, vectors: np.ndarray, parents: list[np.ndarray], centroids: np.ndarray, m: int) -> list | None:
        """The ``m`` items closest to each level-t centroid (``parents``: the parent arrays of levels 1..t) computed
        over the level-0 vector blocks (:mod:`hercules.engines.ray_evidence`); None (the labeler computes them from
        the driver's matrix) unless ``vectors`` were embedded on the cluster and level 1 ran over blocks of the same rows."""
        over = self._over_blocks(vectors, parents)
        if over is None:
            return None
        from hercules.engines.ray_evidence import closest_items

        assert self._level1 is not None
        return closest_items(over[0], self._level1[2], over[1], self._level1[3], centroids, m)

    def item_means(self, vectors: np.ndarray, parents: list[np.ndarray], k: int) -> np.ndarray | None:
        """(k, d) mean level-0 vector of each level-t cluster: the level-1 sums and counts from one map-reduce over the
        blocks (:func:`~hercules.engines.ray_evidence.cluster_sums`, once), upper levels as sums of their level-1
        clusters (exact); None where :meth:`representatives` would be None."""
        over = self._over_blocks(vectors, parents[:1])
        if over is None:
            return None
        from hercules.engines.ray_evidence import cluster_sums

        assert self._level1 is not None
        rank = over[1][0]
        if self._l1_sums is None or not np.array_equal(self._l1_sums[0], rank):
            self._l1_sums = (rank, *cluster_sums(over[0], self._level1[2], [rank], self._level1[3], len(rank)))
        _, sums, counts = self._l1_sums
        up = _level1_to(parents, len(rank))
        sums_t = np.asarray(onehot(up, k, dtype=np.float64) @ sums)
        counts_t = np.bincount(up, weights=counts, minlength=k)
        return (sums_t / np.maximum(counts_t, 1)[:, None]).astype(np.float32)

    def placer(self, X: np.ndarray) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray] | None:
        """``(fitted, fit_rows, fit_Y) -> fitted.transform`` of every row of ``X`` by Ray tasks over its blocks (fit rows
        keep ``fit_Y``); None when ``X`` is not held in blocks."""
        blocks = self.known_blocks(X)
        if blocks is None:
            return None
        from hercules.engines.ray_vectors import place_rows

        n = len(X)

        def place(fitted: Any, fit_rows: np.ndarray, fit_Y: np.ndarray) -> np.ndarray:
            return place_rows(blocks, n, fitted, fit_rows, fit_Y, "map (ray)", self.progress)[0]

        return place

    def term_counts(self, ds: Dataset, parents: list[np.ndarray], k: int) -> tuple[Any, np.ndarray] | None:
        """The keyword titles' (k, terms) counts per level-t cluster and the terms, from the text blocks the embedding
        read (:mod:`hercules.engines.ray_terms`: the vocabulary and the level-1 counts once, upper levels as sums of
        level-1 rows); None unless ``ds``'s texts were embedded on the cluster."""
        if self._texts is None or ds.modality != "text" or ds.texts is not self._texts[0] or not parents:
            return None
        from hercules.engines.ray_terms import cluster_term_counts, tokenize, vocabulary

        _, blocks, n = self._texts
        k1 = len(parents[1]) if len(parents) > 1 else k
        if self._terms is None or self._terms[0] is not parents[0]:
            tokens = tokenize(blocks, n)
            vocab = vocabulary(tokens, n)
            counts = cluster_term_counts(tokens, vocab, parents[0], k1) if len(vocab) else None
            self._terms = (parents[0], counts, vocab)
        _, counts, vocab = self._terms
        if counts is None:
            return None, vocab
        return (onehot(_level1_to(parents, k1), k) @ counts).tocsr(), vocab

    # ------------------------------------------------------------------ the saved result
    def membership(self, hierarchy: Hierarchy, ds: Dataset) -> MembershipParts | None:
        """Every item's cluster at every level written as Parquet parts by Ray tasks from the level-1 label blocks
        (:mod:`hercules.engines.ray_membership`); None when level 1 did not run over blocks, or its labels were
        changed item by item on the driver afterwards (resampling): the result then holds them as in-process."""
        maps = self._label_maps([lvl.parent for lvl in hierarchy.levels[:1]])
        if maps is None:
            if self._level1 is not None:
                log.info("ray: level-1 labels changed on the driver after the pass; the membership is saved in-process")
            return None
        from hercules.engines.ray_membership import write_membership

        assert self._level1 is not None
        try:
            return write_membership(self._level1[2], self._level1[3], maps[0], hierarchy, ds.stored_ids(), self.progress)
        except (OSError, ray.exceptions.RayError) as e:  # the fit is done: the result can still be saved as in-process
            log.warning("ray: writing the membership parts failed (%s); the result will hold it in-process", e)
            return None
