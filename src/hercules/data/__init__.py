"""Data stage: read files, detect the modality, validate items."""

from hercules.data.dataset import Dataset, InputError, Modality, Variable, prepare
from hercules.data.readers import read_path

__all__ = ["Dataset", "InputError", "Modality", "Variable", "prepare", "read_path"]
