"""Hide the passwords that SQL statements carry (``IDENTIFIED BY '...'``, ``PASSWORD '...'``)
before a statement is shown in a message."""

from __future__ import annotations

import re

_QUOTED = r"""(?:'(?:[^'\\]|\\.|'')*(?:'|$)|"(?:[^"\\]|\\.|"")*(?:"|$))"""
_SECRET = re.compile(
    r"(\b(?:IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)(?:\s+PASSWORD)?"
    r"|PASSWORD(?:\s+FOR\s+\S+)?\s*=?\s*(?:\(\s*)?)\s*)" + _QUOTED,
    re.IGNORECASE,
)


def redact(sql: str) -> str:
    """``sql`` with every password literal replaced by ``'***'``.

    >>> redact("CREATE USER u IDENTIFIED BY 's3cret'")
    "CREATE USER u IDENTIFIED BY '***'"
    """
    return _SECRET.sub(r"\1'***'", sql)
