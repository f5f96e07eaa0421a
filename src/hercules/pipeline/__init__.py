"""Internal: how a fit runs. The L0 encoder (items -> vectors), the level policy (how many
clusters per level, when to stop) and the level builder (vectors -> labelled :class:`Hierarchy`).

The public face is :class:`hercules.Hercules`; this package is what it delegates to.
"""
