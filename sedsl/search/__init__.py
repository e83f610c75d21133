"""sedsl search: DARTS over a generated space, evaluation training, and export.

The CLI calls ``run_search``, ``run_train`` and ``export_genotype``; each raises ``SearchError`` for
anything the user can fix.
"""

from .api import resolve_search_config, run_search
from .errors import SearchError
from .export import export_genotype
from .recipe import SearchConfig
from .space import LoadedSpace, load_space
from .train import TrainConfig, TrainResult, run_train

__all__ = [
    "LoadedSpace",
    "SearchConfig",
    "SearchError",
    "TrainConfig",
    "TrainResult",
    "export_genotype",
    "load_space",
    "resolve_search_config",
    "run_search",
    "run_train",
]
