"""The interface every 2-D/3-D layout shares, so the estimator, persistence and viz never care which one ran."""

from __future__ import annotations

import numpy as np


class Layout:
    """A fitted layout.

    ``coords_`` holds the coordinates of the vectors it was fitted on (None after a reload: the model keeps
    its own ``coords_``); :meth:`transform` places new vectors in the same plane; :meth:`to_arrays` is the whole
    persisted state, plain arrays only, so loading a result executes no code.
    """

    method: str = ""
    n_components: int = 2
    coords_: np.ndarray | None = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(method={self.method!r}, n_components={self.n_components})"
