"""Short lock timeouts for the DDL of a migration, retried with backoff (issue 14).

A DDL statement that waits for a lock (``ALTER TABLE`` behind a long transaction) queues every
later query on that table behind it: one idle transaction then stops all writes. So each DDL
statement ``migrate`` runs gets a short lock timeout (``ddl_lock_timeout`` seconds): PostgreSQL's
``lock_timeout`` (``SET LOCAL`` inside the migration's transaction, ``SET`` then ``RESET`` in an
``autocommit_block``), MySQL/MariaDB's session ``lock_wait_timeout`` (whole seconds, rounded up),
set before the statement and put back after it. SQLite has no lock queue: nothing is set.

What is retried is what did not apply:

- PostgreSQL, in the migration's transaction: a lock timeout aborts the transaction, so the
  whole migration is rolled back and run again from its start (MigrationExecutor.run). Not a
  SAVEPOINT per statement: between tries the transaction would keep the locks its earlier
  statements took (an ACCESS EXCLUSIVE lock held through the backoff stops all traffic on that
  table), where a rollback releases them all.
- PostgreSQL in an ``autocommit_block`` (``CREATE INDEX CONCURRENTLY``) and MySQL/MariaDB (DDL
  commits implicitly, before it runs): the statement that timed out did not apply and is run
  again in place (here). A ``CREATE INDEX CONCURRENTLY`` that timed out after creating its
  index leaves it INVALID: that index is dropped before the next try.

While a DDL statement waits, a watcher on a second connection asks the server who blocks it
(PostgreSQL: ``pg_blocking_pids()`` and ``pg_stat_activity``; MariaDB:
``information_schema.METADATA_LOCK_INFO`` when its plugin is installed, else the sessions of
``PROCESSLIST`` with an open transaction), so the retry line and the final error name them.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

from manage.core.redact import redact
from manage.errors import ManageError

DEFAULT_DDL_LOCK_TIMEOUT = 2.0
"""Seconds a DDL statement may wait for a lock: under squawk's and strong_migrations' advice
(a few seconds at most), long enough for the short transactions of a busy application."""
DEFAULT_DDL_RETRIES = 5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 10.0
MAX_DDL_LOCK_TIMEOUT = 2_147_483  # PostgreSQL's lock_timeout is an int of milliseconds

_DDL = re.compile(
    r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*"
    r"(?:CREATE|ALTER|DROP|TRUNCATE|COMMENT|RENAME|REINDEX|CLUSTER|LOCK)\b",
    re.IGNORECASE | re.DOTALL,
)
_INVALID_INDEX = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass({})"
"""Whether the index named by the argument (a literal or a bound parameter) is INVALID."""
_CONCURRENT_INDEX = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r'((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)',
    re.IGNORECASE,
)


def ddl_default(name: str) -> float:
    return DEFAULT_DDL_LOCK_TIMEOUT if name == "ddl_lock_timeout" else float(DEFAULT_DDL_RETRIES)


def check_ddl_option(
    name: str, value: object, shown: str, error: type[ManageError], fix: str = "Fix the setting."
) -> float:
    """``value`` of ``ddl_lock_timeout`` (seconds, 0 to MAX_DDL_LOCK_TIMEOUT; 0 sets no limit)
    or ``ddl_retries`` (a whole number, 0 to 100), as a float.

    Raises:
        ``error``: naming ``shown`` (the setting and where it is, or the flag).
    """
    timeout = name == "ddl_lock_timeout"
    kinds = (int, float) if timeout else (int,)
    if isinstance(value, kinds) and not isinstance(value, bool):
        number = float(value)
        if 0 <= number <= (MAX_DDL_LOCK_TIMEOUT if timeout else 100):  # False for nan
            return number
    wanted = (
        f"a number of seconds from 0 to {MAX_DDL_LOCK_TIMEOUT} (0: no limit), e.g. 2.0"
        if timeout
        else "a whole number of retries from 0 to 100, e.g. 5"
    )
    raise error(f"{shown} must be {wanted}, not {value!r}. {fix}")


def is_ddl(statement: str) -> bool:
    """Whether ``statement`` is DDL that takes a lock on a table (gets the short timeout)."""
    return bool(_DDL.match(statement))


def backoff(attempt: int) -> float:
    """Seconds to sleep before try ``attempt + 1``: exponential from BACKOFF_BASE, capped at
    BACKOFF_CAP, with jitter (so that two waiting runs do not retry in step)."""
    return float(min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0))


def is_lock_timeout(exc: BaseException, dialect: str) -> bool:
    """Whether ``exc`` (a driver error, or SQLAlchemy's wrapper of one) is a lock-wait timeout:
    PostgreSQL's SQLSTATE 55P03, MySQL/MariaDB's error 1205."""
    orig = getattr(exc, "orig", None) or exc
    if dialect == "postgresql":
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return code == "55P03"
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] == 1205


@dataclass(frozen=True, slots=True)
class Blocker:
    """A session that held a lock a DDL statement waited for."""

    pid: int
    application: str
    user: str
    state: str
    since: datetime | None
    query: str

    def describe(self) -> str:
        parts = [f"pid {self.pid}"]
        if self.application:
            parts.append(f"application '{self.application}'")
        if self.user:
            parts.append(f"user '{self.user}'")
        state = self.state or "connected"
        since = ""
        if self.since is not None and self.since.tzinfo is not None:
            since = f" since {self.since.astimezone(timezone.utc):%H:%M:%S} UTC"
        elif self.since is not None:  # MariaDB: the server's local time
            since = f" since {self.since:%H:%M:%S}"
        parts.append(f"{state}{since}")
        if self.query:
            parts.append(f"last query: {_short(self.query)}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class LockWait:
    """One try of a DDL statement that timed out waiting for a lock."""

    statement: str
    blockers: tuple[Blocker, ...]
    attempt: int
    """1 for the first try."""
    retries: int
    timeout: float
    """The lock timeout in effect, in seconds (MySQL/MariaDB: whole seconds)."""
    delay: float = 0.0
    """Seconds until the next try; 0 when none follows."""
    whole_migration: bool = False
    """The retry runs the whole migration again (PostgreSQL, in a transaction)."""
    looked_up: bool = True
    """False with an asyncio driver: the blockers are not looked up (no second thread)."""

    @property
    def short_statement(self) -> str:
        return _short(self.statement)

    def blocked_by(self) -> str:
        if not self.looked_up:
            return "another session (not looked up with an asyncio driver)"
        if not self.blockers:
            return "a session the server did not name"
        return "; ".join(f"({b.describe()})" for b in self.blockers)


def _short(sql: str, limit: int = 120) -> str:
    text = " ".join(redact(sql).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def effective_timeout(timeout: float, dialect: str) -> float:
    """The timeout the server applies: MySQL/MariaDB take whole seconds (0 would not wait)."""
    if dialect in ("mysql", "mariadb") and timeout > 0:
        return float(max(1, math.ceil(timeout)))
    return timeout


class DdlLockGuard:
    """Sets the lock timeout around each DDL statement ``connection`` runs, retries in place
    where the statement did not apply, and remembers the last timed-out try (``last``)."""

    def __init__(
        self,
        connection: Connection,
        database_url: str,
        *,
        timeout: float,
        retries: int,
        on_retry: Callable[[LockWait], None],
        make_engine: Callable[[str], Engine],
    ) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.timeout = effective_timeout(timeout, self.dialect)
        self.retries = retries
        self.on_retry = on_retry
        self.last: LockWait | None = None
        self._watcher = _Watcher(database_url, self.dialect, self.timeout, make_engine)
        self._saved_mysql: Any = None

    @property
    def active(self) -> bool:
        return self.timeout > 0 and self.dialect in ("postgresql", "mysql", "mariadb")

    @contextmanager
    def installed(self) -> Iterator[DdlLockGuard]:
        if not self.active:
            yield self
            return
        engine: Engine = self.connection.engine
        if self.dialect == "postgresql":
            self._watcher.pid = self.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        else:
            row = self.connection.exec_driver_sql(
                "SELECT CONNECTION_ID(), @@SESSION.lock_wait_timeout"
            ).one()
            self._watcher.pid, self._saved_mysql = row[0], row[1]
        event.listen(engine, "do_execute", self._do_execute, retval=True)
        event.listen(engine, "do_execute_no_params", self._do_execute_no_params, retval=True)
        try:
            yield self
        finally:
            event.remove(engine, "do_execute", self._do_execute)
            event.remove(engine, "do_execute_no_params", self._do_execute_no_params)
            self._watcher.close()

    def _do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        return self._run(cursor, statement, context, lambda: cursor.execute(statement, parameters))

    def _do_execute_no_params(self, cursor: Any, statement: str, context: Any) -> bool:
        return self._run(cursor, statement, context, lambda: cursor.execute(statement))

    def _run(self, cursor: Any, statement: str, context: Any, execute: Callable[[], Any]) -> bool:
        if getattr(context, "root_connection", None) is not self.connection or not is_ddl(
            statement
        ):
            return False  # SQLAlchemy runs it as usual
        postgresql = self.dialect == "postgresql"
        options = self.connection.get_execution_options()
        autocommit = options.get("isolation_level") == "AUTOCOMMIT" or bool(
            getattr(getattr(cursor, "connection", None), "autocommit", False)
        )  # inside op.get_context().autocommit_block()
        in_transaction = postgresql and not autocommit
        attempt = 0
        while True:
            attempt += 1
            self._set(cursor, in_transaction)
            self._watcher.start()
            try:
                if postgresql and not in_transaction:
                    self._drop_invalid_index(cursor, statement)
                execute()
            except Exception as exc:
                blockers = self._watcher.stop()
                if not is_lock_timeout(exc, self.dialect):
                    with suppress(Exception):  # a broken connection: its error is the one
                        self._reset(cursor, in_transaction, failed=True)
                    raise
                retry = attempt <= self.retries and not in_transaction
                delay = backoff(attempt) if retry else 0.0
                self.last = LockWait(
                    statement, blockers, attempt, self.retries, self.timeout, delay,
                    whole_migration=in_transaction, looked_up=self._watcher.usable,
                )  # fmt: skip
                self._reset(cursor, in_transaction, failed=True)
                if not retry:
                    raise
                self.on_retry(self.last)
                time.sleep(delay)
                continue
            self._watcher.stop()
            self._reset(cursor, in_transaction, failed=False)
            return True

    def _set(self, cursor: Any, in_transaction: bool) -> None:
        if self.dialect == "postgresql":
            local = "LOCAL " if in_transaction else ""
            cursor.execute(f"SET {local}lock_timeout = '{max(1, round(self.timeout * 1000))}ms'")
        else:
            cursor.execute(f"SET SESSION lock_wait_timeout = {int(self.timeout)}")

    def _reset(self, cursor: Any, in_transaction: bool, *, failed: bool) -> None:
        if self.dialect != "postgresql":
            cursor.execute(f"SET SESSION lock_wait_timeout = {int(self._saved_mysql)}")
        elif not in_transaction:
            cursor.execute("RESET lock_timeout")
        elif not failed:  # a failed statement aborted the transaction: its rollback resets
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")

    def _drop_invalid_index(self, cursor: Any, statement: str) -> None:
        """Before each try of ``CREATE INDEX CONCURRENTLY``: drop an INVALID index of its name,
        which only a concurrent build that failed (or timed out after creating it, in this run
        or an earlier one) leaves (strong_migrations' ``remove_invalid_indexes``). The drop runs
        under the statement's lock timeout: a timeout there is this try's timeout."""
        found = _CONCURRENT_INDEX.match(statement)
        if not found:
            return
        name = found.group(1)
        # The name goes in as a literal: the DBAPI's paramstyle differs by driver (asyncpg's is
        # $1), and the name is an identifier the pattern above matched.
        literal = "'" + name.replace("'", "''") + "'"
        cursor.execute(_INVALID_INDEX.format(literal))
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def invalid_index_left(
    exc: BaseException, database_url: str, make_engine: Callable[[str], Engine]
) -> str | None:
    """The index a failed ``CREATE INDEX CONCURRENTLY`` (the statement of ``exc``) left behind,
    INVALID: PostgreSQL keeps what a concurrent build created when the build fails, unless it
    failed before creating it. None when there is none, or when the database cannot be asked.

    Asked on a fresh connection: the migration's may be aborted, or broken."""
    found = _CONCURRENT_INDEX.match(str(getattr(exc, "statement", None) or ""))
    if not found:
        return None
    name = found.group(1)
    try:
        engine = make_engine(database_url)
        try:
            with engine.connect() as connection:
                query = text(_INVALID_INDEX.format(":name"))
                invalid = connection.execute(query, {"name": name}).scalar()
        finally:
            engine.dispose()
    except Exception:  # the error being reported is the one that matters
        return None
    return name if invalid else None


class _Watcher:
    """Asks, on a second connection, who blocks the migration's session while a DDL statement
    of it runs longer than half its lock timeout."""

    def __init__(
        self, database_url: str, dialect: str, timeout: float, make_engine: Callable[[str], Engine]
    ) -> None:
        self.url, self.dialect, self.timeout = database_url, dialect, timeout
        self.make_engine = make_engine
        self.pid: Any = None
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._found: tuple[Blocker, ...] = ()
        self._metadata_lock_info: bool | None = None
        self.usable = not _async_url(database_url)

    def start(self) -> None:
        if not self.usable or self.pid is None:
            return
        self._done = threading.Event()
        self._found = ()
        self._thread = threading.Thread(target=self._watch, name="manage-ddl-watch", daemon=True)
        self._thread.start()

    def stop(self) -> tuple[Blocker, ...]:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return self._found

    def close(self) -> None:
        self.stop()
        with suppress(Exception):
            if self._connection is not None:
                self._connection.close()
            if self._engine is not None:
                self._engine.dispose()

    def _watch(self) -> None:
        with suppress(Exception):  # connect now, while the statement may not wait at all
            self._connect()
        if self._done.wait(self.timeout / 2):
            return
        while True:
            with suppress(Exception):  # the probe must never fail the migration
                found = self._probe()
                if found:
                    self._found = found
            if self._done.wait(max(0.02, self.timeout / 10)):
                return

    def _connect(self) -> Connection:
        if self._connection is None:
            self._engine = self.make_engine(self.url)
            self._connection = self._engine.connect()
            self._connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def _probe(self) -> tuple[Blocker, ...]:
        connection = self._connect()
        if self.dialect == "postgresql":
            rows = connection.exec_driver_sql(_PG_BLOCKERS, (self.pid,)).all()
        else:
            if self._metadata_lock_info is None:
                self._metadata_lock_info = bool(
                    connection.exec_driver_sql(_MARIADB_HAS_MDL_INFO).scalar()
                )
            query = _MARIADB_MDL_BLOCKERS if self._metadata_lock_info else _MARIADB_OPEN_TRX
            rows = connection.exec_driver_sql(query, (self.pid, self.pid)).all()
        return tuple(
            Blocker(int(r[0]), r[1] or "", r[2] or "", r[3] or "", r[4], r[5] or "") for r in rows
        )


def _async_url(url: str) -> bool:
    from sqlalchemy.engine import make_url

    driver = make_url(url).get_driver_name()
    return driver in ("asyncpg", "psycopg_async", "aiomysql", "asyncmy", "aiosqlite")


_PG_BLOCKERS = """
SELECT pid, application_name, usename, state, coalesce(xact_start, query_start), query
FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids(%s)) ORDER BY pid LIMIT 5
"""
_MARIADB_HAS_MDL_INFO = (
    "SELECT COUNT(*) FROM information_schema.PLUGINS "
    "WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'"
)
_MARIADB_TRX = "FROM information_schema.INNODB_TRX t WHERE t.trx_mysql_thread_id = p.ID"
_MARIADB_SESSION = (
    "SELECT p.ID, '', p.USER, CASE WHEN p.COMMAND <> 'Sleep' THEN "
    "LOWER(CONCAT(p.COMMAND, IF(p.STATE <> '', CONCAT(': ', p.STATE), ''))) "
    f"WHEN EXISTS (SELECT 1 {_MARIADB_TRX}) THEN 'idle in transaction' ELSE 'idle' END, "
    f"(SELECT MIN(t.trx_started) {_MARIADB_TRX}), p.INFO "
    "FROM information_schema.PROCESSLIST p "
)
_MARIADB_MDL_BLOCKERS = _MARIADB_SESSION + (
    "WHERE p.ID IN (SELECT h.THREAD_ID FROM information_schema.METADATA_LOCK_INFO h "
    "JOIN information_schema.METADATA_LOCK_INFO w ON w.TABLE_SCHEMA = h.TABLE_SCHEMA "
    "AND w.TABLE_NAME = h.TABLE_NAME WHERE w.THREAD_ID = %s AND h.THREAD_ID <> w.THREAD_ID "
    "AND h.TABLE_NAME <> '') AND p.ID <> %s ORDER BY p.ID LIMIT 5"
)
_MARIADB_OPEN_TRX = _MARIADB_SESSION + (
    "WHERE p.ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX) "
    "AND p.ID <> %s AND p.ID <> CONNECTION_ID() AND p.ID <> %s "
    "AND (p.DB = DATABASE() OR p.DB IS NULL) ORDER BY 5 LIMIT 5"
)
