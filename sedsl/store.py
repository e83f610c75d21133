"""A small content-addressed store of pickled values under the user's cache directory,
shared by the AST cache (language/parser.py) and the check cache (check/cache.py).

`SEDSL_NO_CACHE=1` turns it off; `SEDSL_CACHE_DIR` moves it (default
`$XDG_CACHE_HOME/sedsl`, else `~/.cache/sedsl`). A missing, stale or corrupt entry is a
miss, and a read-only home directory only costs speed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def directory(kind: str) -> Path | None:
    if os.environ.get("SEDSL_NO_CACHE"):
        return None
    root = os.environ.get("SEDSL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "sedsl",
    )
    return Path(root) / kind


def load(kind: str, key: str, expected: type):
    """The value stored under `key`, if it is an instance of `expected`; else None."""
    folder = directory(kind)
    if folder is None:
        return None
    import pickle  # here, not at the top: a check with SEDSL_NO_CACHE=1 never needs it

    try:
        with open(folder / key, "rb") as handle:
            value = pickle.load(handle)
    except Exception:  # missing, stale format or corrupt: a miss
        return None
    return value if isinstance(value, expected) else None


def store(kind: str, key: str, value) -> None:
    """Write atomically (temp file, then rename), so readers never see half an entry."""
    folder = directory(kind)
    if folder is None:
        return
    import pickle

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / key)
    except OSError:
        pass
