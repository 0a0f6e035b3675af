"""The migration lock: one ``manage migrate`` at a time per database, on every dialect."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from manage.core.database import driver_message, sqlite_file
from manage.core.urls import mask_url
from manage.errors import DatabaseError, LockTimeoutError, UsageError

POLL_SECONDS = 0.05
YEAR = 365 * 24 * 3600
# The longest wait all three databases accept: PostgreSQL's lock_timeout is an int of milliseconds.
MAX_LOCK_TIMEOUT = 2_147_483


def check_lock_timeout(timeout: float | None) -> None:
    """Refuse a ``--lock-timeout`` that is not a number of seconds every database can wait.

    Raises:
        UsageError: ``timeout`` is negative, not finite, or longer than ``MAX_LOCK_TIMEOUT``.
    """
    if timeout is None or 0 <= timeout <= MAX_LOCK_TIMEOUT:  # False for nan
        return
    raise UsageError(
        f"--lock-timeout must be a number of seconds from 0 to {MAX_LOCK_TIMEOUT} (about 24 days), "
        f"not {timeout:g}. Leave it out to wait as long as it takes."
    )


LOCK_FILE_SUFFIX = "-manage-lock"


def lock_name(url: str) -> str:
    """The lock's name: one per database, whatever the version table.

    Projects with different version tables may share a database (and manage's history table):
    their runs must not do DDL at the same moment either (MariaDB fails a statement whose table
    another session is altering, "skipped since its definition is being modified by concurrent
    DDL statement"), so every ``manage migrate`` of a database takes the same lock.
    """
    return f"manage migrate {make_url(url).database or ''}"


@contextmanager
def migration_lock(
    connection: Connection,
    url: str,
    *,
    timeout: float | None = None,
    on_wait: Callable[[], None] = lambda: None,
) -> Iterator[None]:
    """Hold the migration lock of the database behind ``connection`` while the block runs.

    The lock covers the whole database: two runs serialise whatever their version tables
    (``version_table``, ``version_table_schema``).

    PostgreSQL: a session-level advisory lock (``pg_advisory_lock``); MariaDB/MySQL:
    ``GET_LOCK``. Both are taken on ``connection`` itself, the migrations' connection: a session
    lock survives its commits, rollbacks and autocommit blocks, and goes with the connection, so
    it cannot be lost to an idle second connection that a server timeout or a NAT drops, and a
    killed process's lock goes with it. SQLite: an exclusive ``flock`` on a file beside the
    database, removed afterwards (the kernel releases it when the process dies). Other dialects
    run unlocked.

    Args:
        timeout: seconds to wait for another holder; None waits as long as it takes.
        on_wait: called once, when the lock is held by someone else and waiting begins.

    Raises:
        LockTimeoutError: still held by another process after ``timeout`` seconds.
        DatabaseError: the lock could not be taken at all.
    """
    name = lock_name(url)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        path = sqlite_lock_target(url)
        if path is None:  # in-memory: no other process can see it
            yield
            return
        with _file_lock(Path(f"{path}{LOCK_FILE_SUFFIX}"), url, timeout, on_wait):
            yield
        return
    if dialect not in ("postgresql", "mysql", "mariadb"):
        yield
        return
    if connection.in_transaction():
        connection.commit()
    if dialect == "postgresql":
        acquire, release = _postgresql(connection, postgresql_key(name))
    else:
        acquire, release = _mysql(connection, mysql_lock_name(name))
    try:
        if not acquire(0):
            on_wait()
            if not acquire(timeout):
                raise _timed_out(url, timeout)
    except DBAPIError as exc:
        if connection.in_transaction():
            connection.rollback()
        raise DatabaseError(
            f"Could not take the migration lock on {mask_url(url)}: "
            f"{driver_message(exc, url)}. Check the database user's rights."
        ) from None
    if dialect == "postgresql":
        _stop_statements_of_dead_clients(connection)
    try:
        yield
    finally:
        with suppress(DBAPIError):  # a closed or broken connection has released it already
            if connection.in_transaction():
                connection.rollback()  # a failed migration's transaction, if any is left
            release()


def postgresql_key(name: str) -> int:
    """The ``pg_advisory_lock`` key of the lock ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def mysql_lock_name(name: str) -> str:
    """The ``GET_LOCK`` name of the lock ``name`` (server-wide, at most 64 characters)."""
    return f"manage_migrate_{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def _stop_statements_of_dead_clients(connection: Connection) -> None:
    """PostgreSQL 14+: have the server check every second, during a long statement, that this
    client is still there. A killed ``manage migrate``'s statement then stops within a second,
    releasing its locks, instead of running to the end while the next run waits behind it."""
    if (connection.dialect.server_version_info or (0,)) < (14,):
        return
    try:
        connection.exec_driver_sql("SET client_connection_check_interval = 1000")
        connection.commit()
    except DBAPIError:  # a server platform without the check: run as before
        connection.rollback()


def _timed_out(url: str, timeout: float | None) -> LockTimeoutError:
    waited = (
        "longer than this run could wait"
        if timeout is None
        else f"for more than {timeout:g} second{'' if timeout == 1 else 's'}"
    )
    return LockTimeoutError(
        f"Another manage migrate held the migration lock on {mask_url(url)} {waited}. "
        "Wait for it to finish and run migrate again, or raise --lock-timeout."
    )


Acquire = Callable[[float | None], bool]


def _postgresql(connection: Connection, key: int) -> tuple[Acquire, Callable[[], None]]:
    def acquire(timeout: float | None) -> bool:
        if timeout == 0:
            got = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
            connection.commit()
            return bool(got)
        milliseconds = 0 if timeout is None else max(1, round(timeout * 1000))
        # Local to this transaction: lock_timeout bounds the wait, and a statement_timeout of
        # the role or database must not cancel it (it would end the wait with SQLSTATE 57014).
        connection.exec_driver_sql(
            f"SELECT set_config('lock_timeout', '{milliseconds}', true), "
            "set_config('statement_timeout', '0', true)"
        )
        try:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
        except DBAPIError as exc:
            connection.rollback()
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                return False
            raise
        connection.commit()  # the session lock stays; the two settings end here
        return True

    def release() -> None:
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
        connection.commit()

    return acquire, release


def _mysql(connection: Connection, name: str) -> tuple[Acquire, Callable[[], None]]:
    def acquire(timeout: float | None) -> bool:
        seconds = YEAR if timeout is None else timeout  # MariaDB refuses -1 (for ever)
        query = f"SELECT GET_LOCK('{name}', {seconds:g})"
        if getattr(connection.dialect, "is_mariadb", False):  # no max_statement_time cut-off
            query = f"SET STATEMENT max_statement_time = 0 FOR {query}"
        got = connection.exec_driver_sql(query).scalar()
        connection.commit()
        if got is None:  # an error, such as the wait being killed
            raise DatabaseError(
                "Waiting for the migration lock was interrupted on the server (GET_LOCK "
                "returned NULL: killed, or out of memory). Nothing was migrated; run "
                "migrate again."
            )
        return bool(got)

    def release() -> None:
        connection.exec_driver_sql(f"SELECT RELEASE_LOCK('{name}')")
        connection.commit()

    return acquire, release


def sqlite_lock_target(url: str) -> Path | None:
    """The SQLite database file of ``url`` as the lock is keyed: the real file behind any
    symlink, also for ``sqlite:///file:PATH?uri=true`` URLs; None for an in-memory database."""
    path = sqlite_file(url)
    if path is None:
        database = make_url(url).database or ""
        if not database.startswith("file:"):
            return None
        from urllib.parse import parse_qs, unquote, urlsplit

        split = urlsplit(database)
        if parse_qs(split.query).get("mode") == ["memory"] or split.path in ("", ":memory:"):
            return None
        path = Path(unquote(split.path))
    return Path(os.path.realpath(path))


@contextmanager
def _file_lock(
    path: Path, url: str, timeout: float | None, on_wait: Callable[[], None]
) -> Iterator[None]:
    waiting_since: float | None = None
    while True:
        try:
            # Read-only is enough for flock, and lets another OS user lock a file left by
            # a killed run of someone else (0644: readable, not writable, by them).
            # Never through a symlink: the folder may be writable by others (/tmp).
            flags = os.O_RDONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise DatabaseError(
                f"Could not create the migration lock file {path}: {exc.strerror or exc}. "
                "Make the folder of the SQLite database writable."
            ) from None
        if _try_lock(fd):
            # The holder before us removes the file as it finishes: make sure we locked the
            # file that is there now, not one already unlinked.
            with suppress(FileNotFoundError):
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            os.close(fd)
            continue
        os.close(fd)
        now = time.monotonic()
        if waiting_since is None:
            waiting_since = now
            on_wait()
        elif timeout is not None and now - waiting_since >= timeout:
            raise _timed_out(url, timeout)
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        with suppress(OSError):
            path.unlink()
        os.close(fd)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
