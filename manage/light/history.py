"""The history table's name, its columns, and the rule that reads it: one copy for
``manage.core.history`` (SQLAlchemy) and ``manage.quick`` (sqlite3). Standard library only."""

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
