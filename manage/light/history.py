"""The version and history tables as read: their names, the SQL that reads them and the rule
that reads their rows. One copy for ``manage.core`` (SQLAlchemy) and ``manage.quick`` (sqlite3,
for the fast answers). Standard library only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

HISTORY_TABLE = "manage_migration_history"
HISTORY_COLUMNS = (
    "id",
    "revision",
    "direction",
    "checksum",
    "started_at",
    "duration_ms",
    "host",
    "username",
    "version_table",
)

VERSION_COLUMN = "version_num"
"""Alembic's column of the version table: one row per applied head."""
HISTORY_QUERY = (
    f"SELECT {', '.join(HISTORY_COLUMNS)} FROM {HISTORY_TABLE} "
    "WHERE version_table = :version_table ORDER BY id"
)
"""The rows of one project (named by its version table), oldest first. ``:version_table`` is a
named parameter both sqlite3 and SQLAlchemy's ``text()`` bind."""


def version_query(quoted_table: str) -> str:
    """The query that reads the version table (its name quoted by the caller's dialect)."""
    return f"SELECT {VERSION_COLUMN} FROM {quoted_table}"


def current_heads(values: Iterable[object]) -> tuple[str, ...] | None:
    """The revisions recorded in the version table, from its ``version_num`` values; None when
    one is not a revision id (not text)."""
    heads = tuple(values)
    if not all(isinstance(head, str) for head in heads):
        return None
    return heads  # type: ignore[return-value]


class _Row(Protocol):
    @property
    def revision(self) -> str: ...
    @property
    def direction(self) -> str: ...


RowT = TypeVar("RowT", bound=_Row)


def last_applied(entries: Iterable[RowT]) -> dict[str, RowT]:
    """Per revision, its latest row when that row applied it (an unapply clears it); ``entries``
    oldest first."""
    latest: dict[str, RowT] = {}
    for entry in entries:
        if entry.direction.endswith("unapply"):
            latest.pop(entry.revision, None)
        else:
            latest[entry.revision] = entry
    return latest
