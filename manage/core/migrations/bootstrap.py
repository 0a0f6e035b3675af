"""The ``bootstrap`` setting: what a history starts from when its first tables were made outside
it (a ``create_all`` of legacy models, an older tool), on a database and in the in-memory replay.

On a database, the function runs on an empty one (no table but the version and history tables)
right before the first migration: ``migrate`` on a new database, every shadow database, the
scratch database of ``sqlmigrate``. In memory it runs against SQLAlchemy's mock connection for the
project's dialect, which records the DDL instead of running it: the tables a ``create_all``
creates (with their indexes and constraints) join the replayed schema; any other statement
cannot be followed, and the check falls back to a shadow database, saying why.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_mock_engine, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.ddl import AddConstraint, CreateIndex, CreateTable

from manage.core.database import driver_message
from manage.core.history import HISTORY_TABLE
from manage.core.redact import redact
from manage.core.replay.state import SchemaState
from manage.core.settings import Settings, describe_exception, import_string
from manage.errors import MigrationError, SettingsError, UnreplayableError, needs_a_database

DOCS = "docs/real-projects.md"
BOOTSTRAP = "bootstrap"
"""The name the in-memory replay gives the bootstrap in its errors, for a revision id."""

# The database's words for a table that is not there (SQLite, PostgreSQL, MariaDB/MySQL).
_MISSING_TABLE = re.compile(
    r"no such table|relation \S+ does not exist|table \S+ doesn't exist|unknown table",
    re.IGNORECASE,
)
# DDL a create_all emits that is not about tables (PostgreSQL's enum types, sequences).
_NOT_TABLES = {"CreateEnumType", "CreateDomainType", "CreateSequence"}


def load_bootstrap(settings: Settings) -> Callable[[Connection], object] | None:
    """The ``bootstrap`` function, imported (None when the setting is not set).

    Raises:
        SettingsError: the setting names nothing callable.
    """
    spec = settings.bootstrap
    if spec is None:
        return None
    found = (
        import_string(spec, what=BOOTSTRAP, error=SettingsError) if isinstance(spec, str) else spec
    )
    if not callable(found):
        raise SettingsError(
            f"bootstrap = {spec!r} names a {type(found).__name__}, not a function. Point it at "
            'a function that takes a Connection, e.g. "shop.legacy:create_tables".'
        )
    return found


def bootstrap_files(settings: Settings) -> list[Path]:
    """The file of the module the bootstrap lives in (a cache of the replay depends on it)."""
    function = load_bootstrap(settings)
    if function is None:
        return []
    module = sys.modules.get(getattr(function, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    return [Path(file)] if file else []


def database_is_empty(connection: Connection, settings: Settings) -> bool:
    """Whether the database has no table but manage's own (the version and history tables)."""
    tables = set(inspect(connection).get_table_names())
    return not tables - {settings.version_table, HISTORY_TABLE}


def run_bootstrap(settings: Settings, connection: Connection) -> None:
    """Run the bootstrap function on ``connection`` (an empty database).

    Raises:
        MigrationError: it failed; the message names it and the database's error.
    """
    function = load_bootstrap(settings)
    if function is None:
        return
    try:
        function(connection)
    except Exception as exc:
        if isinstance(exc, DBAPIError):
            reason = redact(driver_message(exc, settings.database_url))
        else:
            reason = describe_exception(exc)
        raise MigrationError(
            f"The bootstrap function {_name(settings)} failed on an empty database, before the "
            f"first migration: {reason}. Fix the function (it takes a Connection and creates "
            f"what the history starts from; see {DOCS})."
        ) from exc


def bootstrap_state(settings: Settings, state: SchemaState) -> None:
    """Add what the bootstrap function creates to the (empty) replayed ``state``.

    Raises:
        UnreplayableError: it ran something other than the DDL of tables (raw SQL, a read), or
            failed, so what it creates cannot be known without a database.
    """
    function = load_bootstrap(settings)
    if function is None:
        return
    created: list[Table] = []
    unknown: list[str] = []

    def executor(sql: Any, *_args: Any, **_kw: Any) -> None:
        if isinstance(sql, CreateTable) and isinstance(sql.element, Table):
            created.append(sql.element)
        elif isinstance(sql, CreateIndex | AddConstraint) and _on(sql.element, created):
            return  # copied with its table
        elif type(sql).__name__ not in _NOT_TABLES:
            unknown.append(" ".join(str(sql).split())[:60])

    url = make_url(settings.database_url)
    mock: Any = create_mock_engine(url.set(query={}), executor)  # stands for a Connection
    try:
        function(mock)
    except Exception as exc:
        raise UnreplayableError(
            f"The bootstrap function {_name(settings)} cannot run without a database "
            f"({describe_exception(exc)})",
            BOOTSTRAP,
        ) from exc
    if unknown:
        raise UnreplayableError(
            needs_a_database(f"The bootstrap function {_name(settings)} runs {unknown[0]!r}"),
            BOOTSTRAP,
        )
    for table in created:
        table.to_metadata(state.metadata)


def bootstrap_hint(settings: Settings, reason: str) -> str:
    """What to set, when a migration failed on a missing table and no bootstrap is set."""
    if settings.bootstrap is not None or not _MISSING_TABLE.search(reason):
        return ""
    return (
        " If the history starts from tables made outside it (a create_all of legacy models, "
        'or an older tool), set bootstrap = "package.module:function" in [tool.manage]: a '
        "function taking a Connection that creates them, run on an empty database before the "
        f"first migration and on every replay ({DOCS})."
    )


def _on(element: Any, tables: list[Table]) -> bool:
    table = getattr(element, "table", None)
    return any(table is created for created in tables)


def _name(settings: Settings) -> str:
    spec = settings.bootstrap
    if isinstance(spec, str):
        return repr(spec)
    return repr(f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', spec)}")


def bootstrap_key(settings: Settings) -> str | None:
    """The ``bootstrap`` setting as a replay cache keys it (its module's bytes are keyed too)."""
    spec = settings.bootstrap
    if spec is None or isinstance(spec, str):
        return spec
    return f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', '?')}"
