"""Persistence stage: one result folder, JSON for people, binary arrays for speed."""

from hercules.persistence.folder import SCHEMA_VERSION, ResultFormatError, load, save

__all__ = ["SCHEMA_VERSION", "ResultFormatError", "load", "save"]
