"""The per-item membership of a fit written as a folder of Parquet parts by an engine's tasks.

With the Ray engine the level-1 labels stay in the object store as blocks; one Ray task per block
maps them through the (small) ordering and parent arrays of every level and encodes a Parquet
part (columns ``row``, ``id``, ``L1`` ... ``Ln``), so the membership table of all items is never
built in the driver's memory. The parts are spilled to a temporary folder during the fit, while the
cluster is up (a local Ray is shut down after the fit), and copied into the result's
``membership/`` folder by :func:`hercules.persistence.save`.

A :class:`MembershipParts` knows the hierarchy it was written for (items, k and sizes per level),
so a state whose clusters changed afterwards (``update``) is never saved with stale parts.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hercules.hierarchy.tree import Hierarchy

PART = "part-{:05d}.parquet"


def fingerprint(hierarchy: Hierarchy) -> tuple:
    """What must not change between writing the parts and saving them: items, k and sizes per level."""
    return (hierarchy.n_items, tuple((lvl.k, tuple(np.asarray(lvl.sizes).tolist())) for lvl in hierarchy.levels))


@dataclass(eq=False)
class MembershipParts:
    """A folder of Parquet parts holding ``row, id, L1..Ln`` for every item of the hierarchy ``written_for``.

    ``owned``: a temporary folder of this fit, removed when the object is garbage-collected; else (a loaded
    result's ``membership/``) the folder is only read."""

    path: Path
    written_for: tuple
    owned: bool = False
    _cleanup: weakref.finalize | None = field(default=None, repr=False)

    @classmethod
    def spill(cls, hierarchy: Hierarchy) -> MembershipParts:
        """An empty temporary folder for the parts of ``hierarchy``, removed with the object."""
        parts = cls(Path(tempfile.mkdtemp(prefix="hercules-membership-")), fingerprint(hierarchy), owned=True)
        parts._cleanup = weakref.finalize(parts, shutil.rmtree, str(parts.path), True)
        return parts

    def __getstate__(self) -> dict:
        """A copy (pickle, deepcopy) only reads the folder: the original removes it (a later save of the copy then
        finds no parts and writes the membership as in-process)."""
        return {"path": self.path, "written_for": self.written_for, "owned": False, "_cleanup": None}

    def files(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))

    def matches(self, hierarchy: Hierarchy) -> bool:
        """True when the parts still describe ``hierarchy`` and are all on disk."""
        return self.written_for == fingerprint(hierarchy) and bool(self.files())

    def copy_to(self, dest: Path) -> None:
        """The parts copied, file by file (streamed, never loaded), into the new folder ``dest``."""
        dest.mkdir()
        for f in self.files():
            shutil.copyfile(f, dest / f.name)
