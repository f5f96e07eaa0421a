"""PCA layout: the cheap, deterministic fallback when umap-learn is absent (and a linear step before UMAP)."""

from __future__ import annotations

import numpy as np

from hercules.layout.base import Layout, Place

_FIT_SAMPLE = 50_000


class PCAProjection:
    """Principal components of the L0 vectors, via the d x d covariance (O(n d^2), no n x n)."""

    def __init__(self, n_components: int = 2) -> None:
        self.n_components = n_components
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None  # (n_components, d)
        self.explained_variance_ratio_: np.ndarray | None = None

    def fit(self, X: np.ndarray, random_state: int | None = 0) -> PCAProjection:
        rng = np.random.default_rng(random_state)
        S = X[np.sort(rng.choice(len(X), _FIT_SAMPLE, replace=False))] if len(X) > _FIT_SAMPLE else X
        S = np.asarray(S, dtype=np.float64)
        self.mean_ = S.mean(axis=0)
        Z = S - self.mean_
        cov = Z.T @ Z / max(len(S) - 1, 1)
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1][: self.n_components]
        comps = vecs[:, order].T
        # Deterministic sign: largest-magnitude loading positive (as sklearn's svd_flip).
        signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
        comps *= np.where(signs == 0, 1, signs)[:, None]
        if comps.shape[0] < self.n_components:  # fewer dimensions than components
            comps = np.vstack([comps, np.zeros((self.n_components - comps.shape[0], comps.shape[1]))])
        self.components_ = comps.astype(np.float32)
        total = vals.sum()
        self.explained_variance_ratio_ = (vals[order] / total) if total > 0 else np.zeros(len(order))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.components_ is None or self.mean_ is None:
            raise RuntimeError("PCAProjection is not fitted")
        # X @ W - mean @ W: no centred copy of X (it can be the full 1M x 384 matrix).
        W = self.components_.T.astype(np.float32)
        return (np.asarray(X, dtype=np.float32) @ W - self.mean_.astype(np.float32) @ W).astype(np.float32)

    def to_arrays(self, prefix: str = "pca_") -> dict[str, np.ndarray]:
        assert self.mean_ is not None and self.components_ is not None
        return {
            f"{prefix}mean": np.asarray(self.mean_),
            f"{prefix}components": self.components_,
            f"{prefix}explained_variance_ratio": np.asarray(self.explained_variance_ratio_),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "pca_") -> PCAProjection:
        p = cls(int(arrays[f"{prefix}components"].shape[0]))
        p.mean_ = np.asarray(arrays[f"{prefix}mean"])
        p.components_ = np.asarray(arrays[f"{prefix}components"], dtype=np.float32)
        p.explained_variance_ratio_ = np.asarray(arrays[f"{prefix}explained_variance_ratio"])
        return p


class PCALayout(Layout):
    """The first principal components: linear, so new items are placed exactly as fitted ones."""

    method = "pca"

    def __init__(self, projection: PCAProjection) -> None:
        self.projection = projection
        self.n_components = projection.n_components
        self.coords_ = None

    @classmethod
    def fit(
        cls, vectors: np.ndarray, n_components: int = 2, random_state: int | None = 0, placer: Place | None = None
    ) -> PCALayout:
        """``placer``: who transforms every vector (see :func:`hercules.layout.fit_layout`); None: here."""
        layout = cls(PCAProjection(n_components).fit(vectors, random_state=random_state))
        none = np.empty(0, dtype=np.int64)
        layout.coords_ = layout.transform(vectors) if placer is None else placer(layout, none, np.empty((0, n_components)))
        return layout

    @property
    def explained_variance_ratio_(self) -> np.ndarray | None:
        return self.projection.explained_variance_ratio_

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.projection.transform(X)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"layout_method": np.array(self.method), **self.projection.to_arrays(prefix="layout_pca_")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PCALayout:
        return cls(PCAProjection.from_arrays(arrays, prefix="layout_pca_"))
