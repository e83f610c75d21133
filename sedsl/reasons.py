"""Why reading or writing a file failed, in sedsl's words (never `[Errno 2] ...`).

Callers name the path themselves; `reason` says only what went wrong with it.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

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


class NotTextError(OSError):
    """A file that is not UTF-8 text. An OSError, so that every `except OSError` that
    reports an unreadable file (exit 2) reports this one too, in words, not a traceback."""


def read_text_file(path: str | Path) -> str:
    """A file's text, strictly UTF-8; NotTextError for a binary or otherwise encoded file."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise NotTextError(None, why, str(path)) from None
    nul = text.find("\x00")
    if nul >= 0:
        why = f"a binary file, not text (a NUL byte at offset {nul})"
        raise NotTextError(None, why, str(path))
    return text
