"""sedsl search: DARTS over a generated space, evaluation training, and export.

The CLI calls ``run_search``, ``run_train`` and ``export_genotype``; each raises ``SearchError`` for
anything the user can fix.
"""

from .api import resolve_search_config, run_search
from .errors import SearchError
from .recipe import SearchConfig
from .space import LoadedSpace, load_space

__all__ = [
    "LoadedSpace",
    "SearchConfig",
    "SearchError",
    "load_space",
    "resolve_search_config",
    "run_search",
]
