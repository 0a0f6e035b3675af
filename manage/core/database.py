"""Engines, connection errors that name the fix, and the throwaway shadow database."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from manage.core.settings import mask_url, url_password
from manage.errors import DatabaseError, SettingsError

CONNECT_TIMEOUT_SECONDS = 5
_DRIVER_HINT = {
    "postgresql": "postgresql+psycopg://",
    "mysql": "mysql+pymysql://",
    "mariadb": "mariadb+pymysql://",
}


def make_engine(url: str) -> Engine:
    """An Engine for ``url`` that fails fast and, on SQLite, runs DDL inside real transactions.

    Raises:
        SettingsError: the URL names a dialect or driver that is not installed.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    try:
        engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
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
        except DBAPIError as exc:
            raise connection_error(url, exc) from None
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
        message = message[1:-1].split(", ", 1)[1].strip("\"'")
    message = message.removeprefix("connection failed: ").rstrip(".")
    return _scrub(message, url)


def _scrub(message: str, url: str | None) -> str:
    password = url_password(url)
    return message.replace(password, "***") if password else message


@contextmanager
def shadow_database(url: str, shadow_url: str | None = None) -> Iterator[str]:
    """Yield the URL of an empty database of the same dialect as ``url``; remove it afterwards.

    SQLite gets a temporary file. PostgreSQL and MariaDB/MySQL get a temporary database created
    on the same server and dropped after. With ``shadow_url`` (the ``shadow_database_url``
    setting) that database is used instead: it must be empty and is emptied again afterwards.

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
            yield parsed.set(database=os.path.join(folder, "shadow.sqlite3")).render_as_string(
                hide_password=False
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise DatabaseError(
            f"manage cannot create a shadow database on {backend}. "
            "Set shadow_database_url to an empty database it may use."
        )
    name = f"manage_shadow_{secrets.token_hex(6)}"
    server_url = _server_url(parsed, backend)
    _server_execute(url, server_url, f"CREATE DATABASE {name}", "create a shadow database")
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        drop = f"DROP DATABASE IF EXISTS {name}"
        if backend == "postgresql":
            drop += " WITH (FORCE)"
        _server_execute(url, server_url, drop, "drop the shadow database")


def _server_url(parsed: URL, backend: str) -> URL:
    return parsed.set(database="postgres" if backend == "postgresql" else None)


def _server_execute(url: str, server_url: URL, statement: str, purpose: str) -> None:
    with connect(server_url.render_as_string(hide_password=False)) as connection:
        try:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)
        except DBAPIError as exc:
            raise DatabaseError(
                f"Could not {purpose} on {mask_url(url)}: {driver_message(exc, url)}. "
                "Grant the user the right to create databases, or set shadow_database_url "
                "to an empty database that manage may use."
            ) from None


def _use_given_shadow(shadow_url: str) -> Iterator[str]:
    with connect(shadow_url) as connection:
        inspector = inspect(connection)
        existing = inspector.get_table_names() + inspector.get_view_names()
    if existing:
        raise DatabaseError(
            f"The shadow database {mask_url(shadow_url)} is not empty "
            f"(it has {', '.join(sorted(existing)[:5])}). manage replays the migrations there and "
            "empties it afterwards, so it must start empty: point shadow_database_url at an empty "
            "database."
        )
    try:
        yield shadow_url
    finally:
        _empty_database(shadow_url)


def _empty_database(url: str) -> None:
    """Drop every table and view in ``url`` (what a replay created)."""
    from sqlalchemy import MetaData

    try:
        with connect(url) as connection:
            metadata = MetaData()
            metadata.reflect(connection, views=True)
            backend = connection.dialect.name
            if backend in ("mysql", "mariadb"):
                connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            for view in inspect(connection).get_view_names():
                connection.exec_driver_sql(
                    f"DROP VIEW {connection.dialect.identifier_preparer.quote(view)}"
                )
                metadata.remove(metadata.tables[view])
            metadata.drop_all(connection)
            if backend == "postgresql":
                for enum in inspect(connection).get_enums():  # type: ignore[attr-defined]
                    quoted = connection.dialect.identifier_preparer.quote(enum["name"])
                    connection.exec_driver_sql(f"DROP TYPE IF EXISTS {quoted}")
            connection.commit()
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"Could not empty the shadow database {mask_url(url)} after use: "
            f"{driver_message(exc, url)}. Empty it by hand before the next makemigrations."
        ) from None
