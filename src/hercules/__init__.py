"""hercules: a hierarchy of clusters over texts, images or numbers, every cluster titled and described."""

__version__ = "0.1.0"

from hercules.data import Dataset, InputError, prepare, read_path  # noqa: E402
from hercules.estimator import Hercules  # noqa: E402
from hercules.hierarchy import Cluster  # noqa: E402
from hercules.persistence import load  # noqa: E402

__all__ = ["Cluster", "Dataset", "Hercules", "InputError", "__version__", "load", "prepare", "read_path"]
