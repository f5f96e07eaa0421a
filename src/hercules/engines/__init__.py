"""Where the heavy stages of a fit run: in this process (``"local"``) or on a Ray cluster (``"ray"``).

An :class:`Engine` runs the two passes over every item, the text embedding and the level-1
k-means assignment; everything else (levels above 1, labelling, the map) stays in the fitting
process. ``ray`` is imported only when the Ray engine is used, so ``import hercules`` works
without it.
"""

from hercules.engines.base import ENGINES, Engine, LocalEngine, get_engine
from hercules.engines.membership import MembershipParts

__all__ = ["ENGINES", "Engine", "LocalEngine", "MembershipParts", "get_engine"]
