"""The Ray engine: reading and text embedding as Ray Data pipelines, the clustering space and the level-1
k-means pass over the vector blocks.

* Reading a path: :mod:`hercules.engines.ray_read` (``ray.data.read_csv/read_json/read_parquet``).

* Embedding: the texts become a Ray Dataset (a ``row`` column keeps their order), embedded by
  ``map_batches`` on an actor pool, one actor per CPU of the cluster, each holding the embedder
  once (rebuilt from its spec, or unpickled) and the embedding cache
  (:class:`~hercules.embeddings.cache.EmbeddingCache` at the driver's cache path, so on one
  machine every actor and the driver share one SQLite file; on several machines each node has
  its own). Ray Data restarts a killed actor and re-runs its batches. The vector blocks stay in
  the object store for the level-1 pass; a copy is gathered on the driver, because the
  labelling evidence, the map and the saved result read the matrix (see docs/SCALING.md).
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray
from tqdm.auto import tqdm

from hercules.clustering.kmeans import KMeansResult, kmeans
from hercules.data.dataset import Dataset
from hercules.embeddings.base import Embedder, EmbeddingError
from hercules.embeddings.cache import EmbeddingCache
from hercules.engines.membership import MembershipParts
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
        items = list(items)
        if len(items) < self.engine.min_items or self.engine.closed:
            return self.inner.embed(items, desc=desc)
        return self.engine.embed(self.inner, items, desc)


class RayEngine:
    """See the module docstring. ``min_items``: smaller inputs are embedded in-process."""

    name = "ray"

    def __init__(self, address: str | None = None, *, progress: bool = True, min_items: int = MIN_ITEMS) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or "local"
        self.progress = progress
        self.min_items = min_items
        self.closed = False
        self._owned = False
        self._blocks: dict[int, tuple[np.ndarray, list[Any]]] = {}  # id(driver array) -> (array, block refs)
        self._level1: tuple[np.ndarray, int, list[Any], tuple] | None = None  # k-means labels, k, label blocks, fix
        self._root: dict[int, list[Any] | None] = {}  # id(block list) -> the embedding blocks of the same rows
        self._level1_root: list[Any] | None = None

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
        self._level1 = self._level1_root = None
        if self._owned and ray.is_initialized():
            ray.shutdown()
        self._owned, self.closed = False, True

    def n_workers(self) -> int:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    # ------------------------------------------------------------------ reading, embedding
    def read(self, path: str | os.PathLike) -> pd.DataFrame:
        """``path`` read as a Ray Data pipeline (:mod:`hercules.engines.ray_read`)."""
        from hercules.engines.ray_read import read_with_ray

        self.connect()
        return read_with_ray(path)

    def wrap_embedder(self, embedder: Embedder) -> Embedder:
        return embedder if isinstance(embedder, RayEmbedder) else RayEmbedder(embedder, self)

    def embed(self, embedder: Embedder, items: list[str], desc: str) -> np.ndarray:
        """Embed ``items`` on the cluster; returns the driver copy and keeps the blocks for level 1."""
        self.connect()
        n, workers = len(items), self.n_workers()
        rows = max(BATCH_ROWS, min(50_000, math.ceil(n / (4 * workers))))
        frames = [pd.DataFrame({"row": np.arange(s, min(s + rows, n)), "text": items[s : s + rows]}) for s in range(0, n, rows)]
        cache = embedder.cache
        cache_path = str(cache.path) if isinstance(cache, EmbeddingCache) else None
        log.info("ray: embedding %d texts in %d blocks on %d actors (%s)", n, len(frames), workers, embedder.model_id)
        out = ray.data.from_pandas(frames).map_batches(
            _EmbedBatch,
            fn_constructor_args=(*_payload(embedder), cache_path),
            batch_size=BATCH_ROWS,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        refs = out.materialize().to_numpy_refs()
        vectors = self._gather(refs, n, desc)
        self._blocks[id(vectors)] = (vectors, refs)
        self._root[id(refs)] = refs  # level-0 blocks: the rows every block derived from them keeps
        return vectors

    def _gather(self, refs: list[Any], n: int, desc: str) -> np.ndarray:
        vectors: np.ndarray | None = None
        seen = 0
        with tqdm(total=n, desc=f"{desc} (gather)", unit="item", disable=not self.progress) as bar:
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                block = ray.get(done[0])
                if vectors is None:
                    vectors = np.empty((n, block["vector"].shape[1]), dtype=np.float32)
                vectors[block["row"]] = block["vector"]
                seen += len(block["row"])
                bar.update(len(block["row"]))
        if vectors is None or seen != n:
            raise EmbeddingError(f"ray: {seen} vectors came back for {n} inputs")
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

    def representatives(self, vectors: np.ndarray, parents: list[np.ndarray], centroids: np.ndarray, m: int) -> list | None:
        """The ``m`` items closest to each level-t centroid (``parents``: the parent arrays of levels 1..t) computed
        over the level-0 vector blocks (:mod:`hercules.engines.ray_evidence`); None (the labeler computes them from
        the driver's matrix) unless ``vectors`` were embedded on the cluster and level 1 ran over blocks of the same rows."""
        maps = self._label_maps(parents)
        root = self.known_blocks(vectors)
        if maps is None or root is None or self._level1_root is not root:
            return None
        from hercules.engines.ray_evidence import closest_items

        assert self._level1 is not None
        return closest_items(root, self._level1[2], maps, self._level1[3], centroids, m)

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
