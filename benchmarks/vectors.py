"""Labelled sets for the quality benchmarks, with their MiniLM vectors computed once and cached as .npy.

    .venv/bin/python benchmarks/vectors.py          # writes benchmarks/out/vectors/<set>.npy (not committed)

Sets: Banking77 test and train (77 intents), HWU64 (64 intents in 18 scenarios), sklearn digits (10 classes,
standardised pixels: a non-text set), Fashion-MNIST's 10,000 test images (10 classes; Debian's
dataset-fashion-mnist, ``bash benchmarks/setup_fashion_mnist.sh``) as EfficientNet-Lite0 vectors
(``fmnist_effnet``, through the image embedder) and as pixels scaled to [0, 1] (``fmnist_pixels``).
Each set: (vectors, {level name: labels}).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(__file__).parent / "out" / "vectors"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def _texts(name: str) -> tuple[list[str], dict[str, np.ndarray]]:
    if name.startswith("banking77"):
        df = pd.read_csv(DATA / "banking77" / f"{name.split('_')[1]}.csv")
        return df["text"].astype(str).tolist(), {"intent": df["category"].to_numpy()}
    if name == "hwu64":
        df = pd.read_csv(DATA / "hwu64" / "hwu64.csv")
        return df["text"].astype(str).tolist(), {"intent": df["intent"].to_numpy(), "scenario": df["scenario"].to_numpy()}
    raise KeyError(name)


def _fashion(name: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    import gzip

    root = Path("/usr/share/datasets/fashion-mnist")
    if not root.exists():
        sys.exit("Fashion-MNIST: run bash benchmarks/setup_fashion_mnist.sh first")
    with gzip.open(root / "t10k-images-idx3-ubyte.gz") as fx, gzip.open(root / "t10k-labels-idx1-ubyte.gz") as fy:
        images = np.frombuffer(fx.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        truths = {"class": np.frombuffer(fy.read(), np.uint8, offset=8).astype(np.int64)}
    if name == "fmnist_pixels":
        return (images.reshape(len(images), -1) / 255.0).astype(np.float32), truths
    path = CACHE / "fmnist_effnet.npy"
    if not path.exists():
        import tempfile

        from PIL import Image

        from hercules.embeddings import EmbeddingCache, get_embedder

        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as td:
            paths = [f"{td}/{i:05d}.png" for i in range(len(images))]
            for p, im in zip(paths, images, strict=True):
                Image.fromarray(im).save(p)
            E = get_embedder("effnet", cache=EmbeddingCache(), progress=True).embed(paths)
        np.save(path, np.asarray(E, dtype=np.float32))
    return np.load(path), truths


def load_set(name: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(vectors, truths by level name) of one set; text sets embedded with MiniLM once, then read from the cache."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        X = d.data.astype(np.float32)
        X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-6)
        return X.astype(np.float32), {"digit": d.target}
    if name.startswith("fmnist"):
        return _fashion(name)
    texts, truths = _texts(name)
    path = CACHE / f"{name}_minilm.npy"
    if not path.exists():
        from hercules.embeddings import EmbeddingCache, get_embedder

        CACHE.mkdir(parents=True, exist_ok=True)
        E = get_embedder("minilm", cache=EmbeddingCache(), progress=True).embed(texts)
        np.save(path, np.asarray(E, dtype=np.float32))
    return np.load(path), truths


SETS = ("banking77_test", "banking77_train", "hwu64", "digits", "fmnist_effnet", "fmnist_pixels")

if __name__ == "__main__":
    for s in sys.argv[1:] or SETS:
        X, truths = load_set(s)
        print(s, X.shape, {k: len(np.unique(v)) for k, v in truths.items()})
