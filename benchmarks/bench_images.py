"""Images: Fashion-MNIST, pixels vs EfficientNet-Lite0 embeddings, flat k-means vs hercules at k = 10.

    bash benchmarks/setup_fashion_mnist.sh        # Debian's dataset-fashion-mnist
    .venv/bin/python benchmarks/bench_images.py --n 3000

Images are written as PNG files and go through the normal path pipeline (reading, content-hash
cache, embedding). Embedding time is reported separately; seeds vary the clustering only.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402

ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(ROOT / "t10k-images-idx3-ubyte.gz") as fx, gzip.open(ROOT / "t10k-labels-idx1-ubyte.gz") as fy:
        X = np.frombuffer(fx.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        y = np.frombuffer(fy.read(), np.uint8, offset=8)
    idx = np.sort(np.random.default_rng(seed).choice(len(X), size=n, replace=False))
    return X[idx], y[idx]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    if not ROOT.exists():
        sys.exit("run bash benchmarks/setup_fashion_mnist.sh first")
    from PIL import Image

    from hercules import Hercules
    from hercules.clustering import kmeans
    from hercules.embeddings import EmbeddingCache, get_embedder
    from hercules.evaluation import external_metrics

    X, y = load(a.n)
    rows = []
    with tempfile.TemporaryDirectory() as td:
        paths = []
        for i, im in enumerate(X):
            p = f"{td}/{i:05d}.png"
            Image.fromarray(im).save(p)
            paths.append(p)
        for spec in ("pixels:28", "effnet"):
            emb = get_embedder(spec, cache=EmbeddingCache(), progress=False)
            t = time.perf_counter()
            E = emb.embed(paths)
            embed_s = time.perf_counter() - t
            for method in ("flat k-means", "hercules [50, 10], level 2"):
                scores, times = [], []
                for s in range(a.seeds):
                    t = time.perf_counter()
                    if method == "flat k-means":
                        pred = kmeans(E, 10, random_state=s).labels
                    else:
                        pred = (
                            Hercules([50, 10], progress=False, random_state=s).fit(paths, embeddings=E).hierarchy_.item_labels(2)
                        )
                    times.append(time.perf_counter() - t)
                    scores.append(external_metrics(y, pred))
                rows.append(
                    {
                        "embedding": emb.model_id,
                        "dim": E.shape[1],
                        "method": method,
                        "embed_s": embed_s,
                        **{m: float(np.mean([sc[m] for sc in scores])) for m in ("ari", "nmi", "accuracy")},
                        "ari_std": float(np.std([sc["ari"] for sc in scores])),
                        "cluster_s": float(np.median(times)),
                    }
                )
                print(rows[-1], flush=True)
    table = (
        f"Fashion-MNIST test subset: {a.n} images, 10 classes, {a.seeds} seeds\n\n"
        "| embedding | method | ARI | NMI | accuracy | cluster s | embed s |\n|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        table += (
            f"| {r['embedding']} ({r['dim']}-d) | {r['method']} | {r['ari']:.3f} ± {r['ari_std']:.3f} | {r['nmi']:.3f} | "
            f"{r['accuracy']:.3f} | {r['cluster_s']:.2f} | {r['embed_s']:.1f} |\n"
        )
    write("images_fashion_mnist", {"machine": machine(), "n": a.n, "rows": rows}, table)


if __name__ == "__main__":
    main()
