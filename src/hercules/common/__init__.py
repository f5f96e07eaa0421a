"""Shared plumbing that every stage may import (and that imports no stage).

``paths`` (cache folder), ``plugins`` (spec-string registries with entry points, SQLite, file
digests), ``retry`` (one retry/backoff policy), ``aio`` (run a coroutine from sync code),
``progress`` (structured progress events), ``groups`` (per-cluster sums and means).
"""
