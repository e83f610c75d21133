"""Why reading or writing a file failed, in sedsl's words (never `[Errno 2] ...`).

Callers name the path themselves; `reason` says only what went wrong with it.
"""

from __future__ import annotations

import errno
import json

_OS_REASONS = {
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "it already exists",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "the file system is read-only",
    errno.ENAMETOOLONG: "the name is too long",
}


def reason(exc: BaseException) -> str:
    """What went wrong, without the exception's class, errno or repeated path."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError):
        if exc.errno in _OS_REASONS:
            return _OS_REASONS[exc.errno]
        if exc.strerror:
            return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc)
