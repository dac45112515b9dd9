"""The line between a user's mistake and a bug.

A :class:`UserError` is something the user can fix (a wrong name, a missing file, a malformed
template). The CLI prints its message as one line and exits with code 2 (:class:`StorageFull`, a disk that took
no more: code 1). Anything else is a bug in zsbench and keeps its traceback.
"""
import errno
import os
import shutil
from pathlib import Path


class UserError(Exception):
    """Bad input: the message names the offending thing and the fix, in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


#: the write errors a user fixes by making room or writing elsewhere: disk full, a file-size limit, a quota, a
#: read-only file system
STORAGE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS)


class StorageFull(UserError):
    """A write the disk refused (see :data:`STORAGE_ERRNOS`): one line naming the folder, its free space and the
    fix; exit code 1 (the input was fine). What was already written stays whole (every write is atomic)."""

    exit_code = 1

    def __init__(self, folder: "str | os.PathLike[str]", exc: OSError, elsewhere: str = "", need: int = 0):
        self.folder, self.errno = Path(folder), exc.errno
        free = free_bytes(self.folder)
        room = f"{free / 2 ** 20:,.1f} MB free" if free is not None else "free space unknown"
        if exc.errno == errno.EROFS:
            fix = "the file system is read-only"
        elif exc.errno == errno.EFBIG:
            fix = "a file-size limit stopped the write: raise it (ulimit -f)"
        else:
            fix = f"free at least {max(1, -(-need // 2 ** 20))} MB there" if need else "free space there"
        where = f", or {elsewhere}" if elsewhere else ", or write elsewhere"
        super().__init__(f"cannot write to {self.folder}: {os.strerror(exc.errno or 0)} ({room}): {fix}{where}")


def free_bytes(folder: "str | os.PathLike[str]") -> int | None:
    """Free bytes on the file system that holds ``folder`` (its nearest existing ancestor)."""
    path = Path(folder)
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, cut to ``limit`` characters (for one-line errors)."""
    text = " ".join(str(exc).split())
    return text[:limit] + ("..." if len(text) > limit else "")


class DataLossWarning(UserWarning):
    """Samples were left out of a number (undecodable images). Shown even under ``--quiet`` /
    ``--json`` (on stderr): the number covers fewer images than the data has."""


class CacheWarning(UserWarning):
    """Something in the cache was found damaged and is being recomputed. Shown even under
    ``--quiet``/``--json`` (on stderr): a damaged cache entry can mean a failing disk."""
