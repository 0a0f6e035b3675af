"""The migration history table: who applied or unapplied which migration file, when, its hash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from manage.light.history import HISTORY_QUERY
from manage.light.history import HISTORY_TABLE as HISTORY_TABLE
from manage.light.history import last_applied as last_applied

_metadata = MetaData()
history_table = Table(
    HISTORY_TABLE,
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("revision", String(255), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("checksum", String(64)),
    Column("started_at", DateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("host", String(255)),
    Column("username", String(255)),
    Column("version_table", String(255)),
    # Projects with different version tables may share a database, and this table: each row
    # says whose it is.
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of the history table: one migration applied or unapplied."""

    revision: str
    direction: str
    """``apply``, ``unapply``, ``fake apply``, ``fake unapply``, or ``fast-forward`` (applied by
    creating the schema of a whole range in one pass, issue 15)."""
    checksum: str | None
    """sha256 of the migration file, hex."""
    started_at: datetime
    """UTC, without a time zone."""
    duration_ms: int
    host: str | None
    username: str | None


def checksum(path: Path | None) -> str | None:
    """The sha256 of a migration file (hex), or None when there is no file."""
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def ensure_table(connection: Connection) -> None:
    """Create the history table when it is missing (or add its ``version_table`` column to
    one made before that column existed), and commit.

    Another ``manage migrate``, of a project with another version table, may create it at the
    same moment: its "already exists" is no error.
    """
    try:
        history_table.create(connection, checkfirst=True)
        connection.commit()
    except DBAPIError:
        connection.rollback()
        if not inspect(connection).has_table(HISTORY_TABLE):
            raise
    columns = {c["name"] for c in inspect(connection).get_columns(HISTORY_TABLE)}
    if "version_table" not in columns:
        connection.exec_driver_sql(
            f"ALTER TABLE {HISTORY_TABLE} ADD COLUMN version_table VARCHAR(255)"
        )
    connection.commit()


def record(
    connection: Connection,
    revision: str,
    direction: str,
    path: Path | None,
    started_at: datetime,
    duration_ms: int,
    version_table: str,
) -> None:
    """Add a row, in the connection's open transaction (the migration's own)."""
    connection.execute(
        history_table.insert().values(
            revision=revision,
            direction=direction,
            checksum=checksum(path),
            started_at=started_at,
            duration_ms=duration_ms,
            host=_host(),
            username=_username(),
            version_table=version_table,
        )
    )


def record_many(
    connection: Connection,
    migrations: Sequence[tuple[str, Path | None]],
    direction: str,
    started_at: datetime,
    duration_ms: int,
    version_table: str,
) -> None:
    """Add a row per (revision, file) of ``migrations`` in one statement, in the connection's
    open transaction (a fast-forward's: each row has the whole pass's start and duration)."""
    if not migrations:
        return
    host, username = _host(), _username()
    connection.execute(
        history_table.insert(),
        [
            {
                "revision": revision,
                "direction": direction,
                "checksum": checksum(path),
                "started_at": started_at,
                "duration_ms": duration_ms,
                "host": host,
                "username": username,
                "version_table": version_table,
            }
            for revision, path in migrations
        ],
    )


def utcnow() -> datetime:
    """Now in UTC, without a time zone (the history table's ``started_at``)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def read(connection: Connection, version_table: str) -> list[HistoryEntry]:
    """The rows of the project whose version table is ``version_table``, oldest first; empty
    when the table does not exist (yet)."""
    if not inspect(connection).has_table(HISTORY_TABLE):
        return []
    if "version_table" not in {c["name"] for c in inspect(connection).get_columns(HISTORY_TABLE)}:
        return []  # made before rows said whose they are: none can be trusted
    query = text(HISTORY_QUERY).columns(*history_table.c)  # the columns' types read the values
    rows = connection.execute(query, {"version_table": version_table}).all()
    return [
        HistoryEntry(
            r.revision, r.direction, r.checksum, r.started_at, r.duration_ms, r.host, r.username
        )
        for r in rows
    ]


def _host() -> str:
    import socket

    return socket.gethostname()[:255]


def _username() -> str:
    try:
        import getpass

        return getpass.getuser()[:255]
    except (OSError, KeyError, ImportError):  # no login name and no passwd entry
        return str(os.getuid()) if hasattr(os, "getuid") else "?"
