"""Fine-tuning the text embedder itself on a judge's triplet answers (ClusterLLM stage 1, for
sentence-transformers models such as MiniLM).

Each answered triplet ``(anchor, closer, farther)`` gives ClusterLLM's objective: a softmax over
the anchor's cosine similarities to its two candidates, temperature ``tau``, i.e.
``softplus((cos(a, farther) - cos(a, closer)) / tau)``. One pass of AdamW over the answers (a
few hundred to a few thousand), on CPU, then the tuned copy is saved under the cache folder,
named by a hash of the base model, the answers' texts and the settings: a killed or repeated run
finds it there and never trains twice. The base model on disk is never changed.

The result folder keeps a copy of the tuned weights (``embedder/``), so ``predict`` and
``update`` embed new texts with the same model the clusters were built on.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hercules.common.paths import default_cache_dir
from hercules.embeddings.base import Embedder
from hercules.embeddings.providers import SentenceTransformerEmbedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuneConfig:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-5
    tau: float = 0.05
    max_seq_length: int = 128  # tokens per text while training (short texts are not padded to it)
    negatives: str = "triplet"  # "triplet": the other candidate only; "batch": also the batch's other answers (ClusterLLM)


@dataclass(frozen=True)
class Tuned:
    """A tuned model folder and its embedder id (the cache key of its vectors)."""

    path: Path
    model_id: str
    seconds: float
    reused: bool


def can_tune(embedder: Embedder | None) -> bool:
    """Only sentence-transformers models are fine-tuned; any other embedder gets the linear adapter."""
    return isinstance(embedder, SentenceTransformerEmbedder)


def _key(base_id: str, texts: list[str], triplets: np.ndarray, config: TuneConfig, seed: int | None) -> str:
    h = hashlib.sha256(f"{base_id}\x00{config}\x00{seed}".encode())
    for a, b, c in triplets:
        h.update(f"\x00{texts[a]}\x01{texts[b]}\x01{texts[c]}".encode("utf-8", errors="surrogatepass"))
    return h.hexdigest()[:20]


def tuned_embedder(tuned: Tuned, base: Embedder, **kw) -> SentenceTransformerEmbedder:
    """An embedder over the tuned folder, on the base model's device."""
    return SentenceTransformerEmbedder(str(tuned.path), device=getattr(base, "device", "cpu"), model_id=tuned.model_id, **kw)


def finetune(
    base: SentenceTransformerEmbedder,
    texts: list[str],
    triplets: np.ndarray,
    seed: int | None = 0,
    config: TuneConfig | None = None,
    progress: bool = True,
) -> Tuned:
    """A copy of ``base`` tuned on oriented ``triplets`` (rows of item indices into ``texts``)."""
    config = config or TuneConfig()
    key = _key(base.model_id, texts, triplets, config, seed)
    model_id = f"{base.model_id}+guided-{key}"
    path = default_cache_dir() / "tuned" / key
    if (path / "config.json").exists():
        log.info("guidance: reusing the fine-tuned embedder %s", path)
        return Tuned(path, model_id, 0.0, True)
    t0 = time.perf_counter()
    model = _train(base, texts, triplets, seed, config, progress)
    tmp = path.with_name(f".{key}.partial")
    model.save(str(tmp))
    tmp.rename(path)  # complete folders only: a killed save is trained again, never loaded half-written
    seconds = time.perf_counter() - t0
    log.info("guidance: fine-tuned %s on %d triplets in %.1f s", base.model_id, len(triplets), seconds)
    return Tuned(path, model_id, seconds, False)


def _train(
    base: SentenceTransformerEmbedder,
    texts: list[str],
    triplets: np.ndarray,
    seed: int | None,
    config: TuneConfig,
    progress: bool,
):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0 if seed is None else int(seed))
    model = SentenceTransformer(base.model_path(), device=base.device, local_files_only=True)
    model.max_seq_length = min(model.max_seq_length or config.max_seq_length, config.max_seq_length)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(seed)

    def embed(idx: np.ndarray):
        features = model.tokenize([texts[i] for i in idx])
        features = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in features.items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    steps = config.epochs * int(np.ceil(len(triplets) / config.batch_size))
    bar = tqdm(total=steps, desc="fine-tuning the embedder", unit="batch", disable=not progress)
    for _ in range(config.epochs):
        order = rng.permutation(len(triplets))
        for start in range(0, len(order), config.batch_size):
            batch = triplets[order[start : start + config.batch_size]]
            uniq, inv = np.unique(batch, return_inverse=True)  # each text once per batch
            E = embed(uniq)[torch.as_tensor(inv.reshape(batch.shape))]
            loss = _loss(E, torch.as_tensor(batch), config)
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update(1)
    bar.close()
    model.eval()
    return model


def _loss(E, idx, config: TuneConfig):
    """The batch's loss; ``E`` (b, 3, d) unit vectors of (anchor, closer, farther), ``idx`` their item ids.

    ``triplet``: ``softplus((cos(a, farther) - cos(a, closer)) / tau)``. ``batch`` (ClusterLLM's objective): a softmax
    of each anchor over its closer item and every farther item of the batch, plus each closer item over its anchor and
    the batch's other anchors; a pair of one and the same item is never a negative."""
    import torch

    F = torch.nn.functional
    if config.negatives != "batch":
        return F.softplus(((E[:, 0] * E[:, 2]).sum(-1) - (E[:, 0] * E[:, 1]).sum(-1)) / config.tau).mean()
    a, p, n = E[:, 0], E[:, 1], E[:, 2]
    b = len(E)
    eye = torch.eye(b, dtype=torch.bool)
    pos = (a * p).sum(-1, keepdim=True) / config.tau
    neg = (a @ n.T / config.tau).masked_fill(idx[:, 0:1] == idx[None, :, 2], float("-inf"))
    first = F.cross_entropy(torch.cat([pos, neg], 1), torch.zeros(b, dtype=torch.long))
    back = (p @ a.T / config.tau).masked_fill((idx[:, 1:2] == idx[None, :, 0]) & ~eye, float("-inf"))
    return first + F.cross_entropy(back, torch.arange(b))
