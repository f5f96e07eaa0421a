"""Persistence stage: one result folder, JSON for people, binary arrays for speed, no pickle."""

from hercules.persistence.folder import (
    SCHEMA_VERSION,
    DestinationError,
    ResultFormatError,
    check_destination,
    is_result,
    save,
)
from hercules.persistence.load import load_state

__all__ = ["SCHEMA_VERSION", "DestinationError", "ResultFormatError", "check_destination", "is_result", "load_state", "save"]
