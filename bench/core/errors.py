"""The line between a user's mistake and a bug.

A :class:`UserError` is something the user can fix (a wrong name, a missing file, a malformed
template). The CLI prints its message as one line and exits with code 2. Anything else is a bug
in zsbench and keeps its traceback.
"""


class UserError(Exception):
    """Bad input: the message names the offending thing and the fix, in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


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
