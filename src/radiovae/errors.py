"""One exception type for bad input: the CLI turns it into one line on stderr and exit status 2."""

from __future__ import annotations

import reprlib
from typing import Any


class UserError(Exception):
    """Input the user can fix (missing file, garbage, unknown config key, ...).

    Raise it with a message that names the thing at fault; never for a bug in radiovae.
    """


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple = 2, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 40, 40, 40


def brief(value: Any, limit: int = 60) -> str:
    """A short repr of ``value`` for a message: bounded work and length, whatever the value
    (an alias-bomb list, a 100k-deep structure, a 10**5000 integer); messages never print a
    whole value."""
    if isinstance(value, str):
        text = repr(value[:limit]) + ("…" if len(value) > limit else "")
    else:
        try:
            text = _SHORT.repr(value)
        except (ValueError, RecursionError, MemoryError):
            text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
