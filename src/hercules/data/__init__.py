"""Data stage: read files, detect the modality, validate items."""

from hercules.data.dataset import Dataset, InputError, Modality, Variable, prepare
from hercules.data.readers import read_path, read_vectors

__all__ = ["Dataset", "InputError", "Modality", "Variable", "prepare", "read_path", "read_vectors"]
