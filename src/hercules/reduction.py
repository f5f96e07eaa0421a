"""PCA projection for plots (Section 3.6): fitted once, saved with the result, applied to new items."""

from __future__ import annotations

import numpy as np

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
        S = S.astype(np.float64)
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

    def to_arrays(self) -> dict[str, np.ndarray]:
        assert self.mean_ is not None and self.components_ is not None
        return {
            "pca_mean": self.mean_,
            "pca_components": self.components_,
            "pca_explained_variance_ratio": np.asarray(self.explained_variance_ratio_),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PCAProjection:
        p = cls(int(arrays["pca_components"].shape[0]))
        p.mean_ = arrays["pca_mean"]
        p.components_ = arrays["pca_components"]
        p.explained_variance_ratio_ = arrays["pca_explained_variance_ratio"]
        return p
