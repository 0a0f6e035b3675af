"""Engines, connection errors that name the fix, and the throwaway shadow database."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from manage.core.drivers import (
    connect_args,
    connect_errors,
    is_async_url,
    require_async_support,
)
from manage.core.settings import Settings
from manage.core.urls import mask_url, url_password
from manage.errors import DatabaseError, SettingsError

_DRIVER_HINT = {
    "postgresql": "postgresql+psycopg://",
    "mysql": "mysql+pymysql://",
    "mariadb": "mariadb+pymysql://",
}


def make_engine(url: str) -> Engine:
    """An Engine for ``url`` that fails fast and, on SQLite, runs DDL inside real transactions.

    For an asyncio driver (``postgresql+asyncpg://``...) it is the synchronous facade of an
    ``AsyncEngine``: usable inside :func:`manage.core.drivers.run_on_driver`, as every command is.

    Raises:
        SettingsError: the URL names a dialect or driver that is not installed.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {"poolclass": NullPool, "connect_args": connect_args(parsed)}
    try:
        if is_async_url(parsed):
            require_async_support(parsed)
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(parsed, **options).sync_engine
        else:
            engine = create_engine(parsed, **options)
    except ArgumentError as exc:
        reason = " ".join(_scrub(str(exc), url).split()).rstrip(".")
        raise SettingsError(
            f"The database URL {mask_url(url)} is not valid for {backend}: {reason}. Fix the URL."
        ) from exc
    except (NoSuchModuleError, ImportError) as exc:
        hint = _DRIVER_HINT.get(backend)
        fix = f" Install the driver, or name an installed one, e.g. {hint}" if hint else ""
        raise SettingsError(
            f"The database driver for {parsed.drivername}:// is not available "
            f"({_scrub(str(exc), url)}).{fix or ' Install the driver for it.'}"
        ) from exc
    if backend == "sqlite":
        _make_sqlite_transactional(engine)
    return engine


def _make_sqlite_transactional(engine: Engine) -> None:
    """pysqlite does not BEGIN before DDL; do it ourselves so a failed migration rolls back.

    SQLAlchemy's documented recipe: "Serializable isolation / Savepoints / Transactional DDL".
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def database_exists(url: str) -> bool:
    """False only for a SQLite file that is not there yet (connecting would create it)."""
    path = sqlite_file(url)
    return path is None or path.exists()


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """Connect to ``url``; a failure becomes a DatabaseError naming the server and the fix."""
    engine = make_engine(url)
    try:
        try:
            connection = engine.connect()
        except connect_errors() as exc:
            raise connection_error(url, exc) from None
        except TypeError as exc:  # the driver refused a ?key=value of the URL
            raise SettingsError(
                f"The database driver refused the URL {mask_url(url)}: {_scrub(str(exc), url)}. "
                "Remove or fix the query parameters of the URL."
            ) from None
        with connection:
            yield connection
    finally:
        engine.dispose()


def connection_error(url: str, exc: BaseException) -> DatabaseError:
    """Translate a failed connect into one message: what failed, where, and what to do."""
    reason = driver_message(exc, url)
    return DatabaseError(
        f"Could not connect to the database at {mask_url(url)}: {reason}. "
        "Check that the server is running and that database_url (or DATABASE_URL) is right."
    )


def driver_message(exc: BaseException, url: str | None = None) -> str:
    """The driver's own first line of an error, without SQLAlchemy's boilerplate or a password."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    message = lines[0] if lines else type(orig).__name__
    if message.startswith("(") and message.endswith(")") and ", " in message:
        # PyMySQL: (2003, "Can't connect to MySQL server on ...")
        message = message[1:-1].split(", ", 1)[1]
        if len(message) > 1 and message[0] in "\"'" and message[-1] == message[0]:
            message = message[1:-1]
    message = message.removeprefix("connection failed: ").rstrip(".")
    return _scrub(message, url)


def _scrub(message: str, url: str | None) -> str:
    password = url_password(url)
    if not password:
        return message
    return message.replace(password, "***").replace(quote(password, safe=""), "***")


@dataclass(frozen=True, slots=True)
class Shadow:
    """An empty database to replay the history into."""

    url: str = field(repr=False)
    rollback: bool = False
    """Replay and compare inside one transaction that is rolled back, leaving the database as it
    was (a given shadow database on PostgreSQL or SQLite, where DDL is transactional)."""


@contextmanager
def shadow_connection(settings: Settings) -> Iterator[tuple[Connection, bool]]:
    """A connection to the project's shadow database (:func:`shadow_database`), and whether the
    work done on it must be rolled back (a database given by ``shadow_database_url``)."""
    with (
        shadow_database(settings.database_url, settings.shadow_database_url) as shadow,
        connect(shadow.url) as connection,
    ):
        yield connection, shadow.rollback


@contextmanager
def shadow_database(url: str, shadow_url: str | None = None) -> Iterator[Shadow]:
    """An empty database of the same dialect as ``url``, removed or emptied afterwards.

    SQLite gets a temporary file. PostgreSQL and MariaDB/MySQL get a temporary database created
    on the same server and dropped after. With ``shadow_url`` (the ``shadow_database_url``
    setting) that database is used instead: it must be empty, and is left empty.

    Raises:
        DatabaseError: the server cannot be reached or refuses to create the database.
    """
    if shadow_url:
        yield from _use_given_shadow(shadow_url)
        return
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="manage-shadow-")
        try:
            shadow = parsed.set(database=os.path.join(folder, "shadow.sqlite3"))
            yield Shadow(shadow.render_as_string(hide_password=False))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise DatabaseError(
            f"manage cannot create a shadow database on {backend}. "
            "Set shadow_database_url to an empty database it may use."
        )
    server_url = _server_url(parsed, backend)
    _drop_stale_shadows(server_url, backend)
    name = shadow_name()
    _server_execute(url, server_url, f"CREATE DATABASE {name}", "create a shadow database")
    try:
        yield Shadow(parsed.set(database=name).render_as_string(hide_password=False))
    finally:
        drop = f"DROP DATABASE IF EXISTS {name}"
        if backend == "postgresql":
            drop += " WITH (FORCE)"
        _server_execute(url, server_url, drop, "drop the shadow database")


SHADOW_PREFIX = "manage_shadow_h"
STALE_SHADOW_SECONDS = 24 * 3600


def _host_tag() -> str:
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def shadow_name() -> str:
    """``manage_shadow_h<host>_p<pid>_t<unix time>_<random>``: a later run can tell a shadow
    database left by a killed run (its process gone from this host, or a day old)."""
    return f"{SHADOW_PREFIX}{_host_tag()}_p{os.getpid()}_t{int(time.time())}_{secrets.token_hex(2)}"


def is_stale_shadow(name: str, *, now: float | None = None) -> bool:
    """Whether the shadow database ``name`` was left by a run that is gone."""
    import re

    found = re.fullmatch(rf"{SHADOW_PREFIX}([0-9a-f]{{8}})_p(\d+)_t(\d+)_[0-9a-f]+", name)
    if found is None:
        return False
    host, pid, created = found.group(1), int(found.group(2)), int(found.group(3))
    if (now if now is not None else time.time()) - created > STALE_SHADOW_SECONDS:
        return True
    if host != _host_tag():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _drop_stale_shadows(server_url: URL, backend: str) -> None:
    """Drop shadow databases of killed runs; best effort (another run may be dropping them)."""
    engine = make_engine(server_url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            auto = connection.execution_options(isolation_level="AUTOCOMMIT")
            if backend == "postgresql":
                rows = auto.exec_driver_sql(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'manage\\_shadow\\_h%%'"
                )
            else:
                rows = auto.exec_driver_sql("SHOW DATABASES LIKE 'manage\\_shadow\\_h%%'")
            for name in [row[0] for row in rows if is_stale_shadow(row[0])]:
                force = " WITH (FORCE)" if backend == "postgresql" else ""
                with contextlib.suppress(DBAPIError):
                    auto.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
    except (SQLAlchemyError, OSError):  # asyncpg: OSError (drivers.connect_errors)
        pass
    finally:
        engine.dispose()


def _server_url(parsed: URL, backend: str) -> URL:
    """The URL of the server itself: PostgreSQL's ``postgres`` database, MySQL/MariaDB's no
    database (the configured one need not exist; ``URL.set(database=None)`` keeps it, as
    ``set`` skips None)."""
    if backend == "postgresql":
        return parsed.set(database="postgres")
    return parsed._replace(database=None)


def _server_execute(url: str, server_url: URL, statement: str, purpose: str) -> None:
    """Run ``statement`` on the server of ``url``; errors name ``url``, the one the user set."""
    engine = make_engine(server_url.render_as_string(hide_password=False))
    try:
        try:
            connection = engine.connect()
        except connect_errors() as exc:
            raise connection_error(url, exc) from None
        with connection:
            try:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    statement
                )
            except DBAPIError as exc:
                raise DatabaseError(
                    f"Could not {purpose} on {mask_url(url)}: {driver_message(exc, url)}. "
                    "Grant the user the right to create databases, or set shadow_database_url "
                    "to an empty database that manage may use."
                ) from None
    finally:
        engine.dispose()


# What a replay may leave in a database, per dialect: one row per object, its kind and name.
_OBJECTS = {
    "postgresql": """
        SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                              WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN
              ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
        UNION ALL
        SELECT 'TYPE', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        UNION ALL
        SELECT 'FUNCTION', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    """,
    "mysql": """
        SELECT CASE table_type WHEN 'VIEW' THEN 'VIEW' WHEN 'SEQUENCE' THEN 'SEQUENCE'
                               ELSE 'TABLE' END, table_name
        FROM information_schema.tables WHERE table_schema = DATABASE()
        UNION ALL
        SELECT routine_type, routine_name FROM information_schema.routines
        WHERE routine_schema = DATABASE()
    """,
    "sqlite": """
        SELECT upper(type), name FROM sqlite_master
        WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'
    """,
}


def database_objects(connection: Connection) -> list[tuple[str, str]]:
    """Every table, view, sequence, type and routine in the database, as (kind, name)."""
    return _objects(connection)


def _objects(connection: Connection) -> list[tuple[str, str]]:
    dialect = "mysql" if connection.dialect.name == "mariadb" else connection.dialect.name
    query = _OBJECTS.get(dialect)
    if query is None:
        names = inspect(connection).get_table_names()
        return [("TABLE", name) for name in names]
    return [(str(kind), str(name)) for kind, name in connection.exec_driver_sql(query)]


def _use_given_shadow(shadow_url: str) -> Iterator[Shadow]:
    with connect(shadow_url) as connection:
        existing = _objects(connection)
        transactional = connection.dialect.name in ("postgresql", "sqlite")
    if existing:
        names = ", ".join(sorted(name for _kind, name in existing)[:5])
        raise DatabaseError(
            f"The shadow database {mask_url(shadow_url)} is not empty (it has {names}). "
            "manage replays the migrations there and leaves it empty again, so it must start "
            "empty: point shadow_database_url at an empty database."
        )
    if transactional:
        yield Shadow(shadow_url, rollback=True)
        return
    try:
        yield Shadow(shadow_url)
    finally:
        _empty_database(shadow_url)


def _empty_database(url: str) -> None:
    """Drop everything a replay created in a MariaDB/MySQL database (DDL there cannot roll back)."""
    try:
        with connect(url) as connection:
            quote = connection.dialect.identifier_preparer.quote
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            order = {"VIEW": 0, "TABLE": 1, "SEQUENCE": 2, "PROCEDURE": 3, "FUNCTION": 3}
            for kind, name in sorted(_objects(connection), key=lambda o: order.get(o[0], 9)):
                connection.exec_driver_sql(f"DROP {kind} IF EXISTS {quote(name)}")
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
            connection.commit()
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"Could not empty the shadow database {mask_url(url)} after use: "
            f"{driver_message(exc, url)}. Empty it by hand before the next makemigrations."
        ) from None
