"""Hide the passwords that SQL statements carry (``IDENTIFIED BY '...'``, ``PASSWORD '...'`` in
every quoting PostgreSQL and MySQL know: ``E'...'``, ``U&'...'``, ``$$...$$``, ``$tag$...$tag$``,
and libpq's ``password=...`` or ``postgresql://user:password@`` inside a connection string, as
dblink takes) before a statement is shown in a message."""

from __future__ import annotations

import re

_QUOTED = r"""(?:'(?:[^'\\]|\\.|'')*(?:'|$)|"(?:[^"\\]|\\.|"")*(?:"|$))"""
_DOLLAR = r"\$(?P<tag>[A-Za-z_]\w*)?\$.*?(?:\$(?P=tag)?\$|$)"
_SECRET = re.compile(
    r"(\b(?:IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)(?:\s+PASSWORD)?"
    r"|PASSWORD(?:\s+FOR\s+\S+)?\s*=?\s*(?:\(\s*)?)\s*)"
    r"(?:(?:E|U&|N|_\w+\s*)?" + _QUOTED + "|" + _DOLLAR + ")",
    re.IGNORECASE | re.DOTALL,
)
# libpq's key=value connection strings (dblink_connect('host=db password=s3cret')): the value
# runs to the next space, or is quoted with '...' (doubled inside SQL text).
_CONNINFO = re.compile(
    r"(\bpassword\s*=\s*)(?:''(?:[^']|'''')*''|\\'(?:[^'\\]|\\.)*\\'|[^\s'\"]+)", re.IGNORECASE
)

# libpq's URI form, dblink_connect('postgresql://app:s3cret@db/shop') (and any scheme://user:pw@):
# the password runs to the last '@' before the host.
_URI = re.compile(r"(\b[A-Za-z][\w+.-]*://[^\s:/@'\"]*:)[^\s'\"]*@")


def redact(sql: str) -> str:
    """``sql`` with every password literal replaced by ``'***'``.

    >>> redact("CREATE USER u IDENTIFIED BY 's3cret'")
    "CREATE USER u IDENTIFIED BY '***'"
    >>> redact("ALTER ROLE u PASSWORD $x$s3cret$x$")
    "ALTER ROLE u PASSWORD '***'"
    >>> redact("SELECT dblink_connect('host=db password=s3cret dbname=shop')")
    "SELECT dblink_connect('host=db password=*** dbname=shop')"
    >>> redact("SELECT dblink_connect('postgresql://app:s3cret@db/shop')")
    "SELECT dblink_connect('postgresql://app:***@db/shop')"
    """
    return _SECRET.sub(r"\1'***'", _CONNINFO.sub(r"\1***", _URI.sub(r"\1***@", sql)))
