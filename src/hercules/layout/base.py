"""The interface every 2-D/3-D layout shares, so the estimator, persistence and viz never care which one ran."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: ``(fitted layout, sorted rows it was fitted on, their coordinates) -> (n, c)`` coordinates of every item, computed
#: by the caller (a Ray engine places every block of the vectors with ``fitted.transform``).
Place = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]


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
