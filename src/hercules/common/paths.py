"""Where hercules keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$HERCULES_CACHE_DIR``, else ``$XDG_CACHE_HOME/hercules``, else ``~/.cache/hercules``."""
    if os.environ.get("HERCULES_CACHE_DIR"):
        return Path(os.environ["HERCULES_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hercules"
