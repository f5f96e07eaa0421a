"""hercules: a hierarchy of clusters over texts, images or numbers, every cluster titled and described.

Names are imported on first use (PEP 562), so ``import hercules`` and ``hercules --help`` stay
fast: numpy, pandas and scikit-learn load only when a model is built.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Hercules": "hercules.estimator",
    "load": "hercules.estimator",
    "Cluster": "hercules.hierarchy.tree",
    "Dataset": "hercules.data.dataset",
    "InputError": "hercules.data.dataset",
    "prepare": "hercules.data.dataset",
    "read_path": "hercules.data.readers",
}

__all__ = ["Cluster", "Dataset", "Hercules", "InputError", "__version__", "load", "prepare", "read_path"]

if TYPE_CHECKING:
    from hercules.data.dataset import Dataset, InputError, prepare
    from hercules.data.readers import read_path
    from hercules.estimator import Hercules, load
    from hercules.hierarchy.tree import Cluster


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hercules' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
