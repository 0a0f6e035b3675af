"""Data steps in the in-memory replay: ``op.get_bind()`` is a real, private in-memory SQLite
database holding the schema replayed so far, which refuses every statement that could change the
schema.

The rule, Django's ``RunPython`` made checkable: a migration's Python code that only reads and
writes rows (an ORM session, ``bind.execute(update(...))``) has no effect on the schema; one that
sends anything else through the bind (DDL, ``PRAGMA`` writes aside) is refused, and the replay
falls back to a shadow database, saying so. The database is empty, as a shadow database is: rows
cannot lead the step elsewhere than there.

On SQLite the database is of the project's own dialect, so code that branches on
``bind.dialect.name`` takes the branch the project's database takes. On PostgreSQL and MariaDB
(``watched``) it is not, so the connection also refuses what could make the step behave otherwise
than on the server: the step reading ``bind.dialect`` / ``bind.engine`` / the DBAPI connection
itself (SQLAlchemy's own reads aside), and any DDL SQLAlchemy would emit on it
(``Enum.create(bind)``, ``Sequence.create(bind)``, ``metadata.create_all(bind)``, which SQLite
skips without a word). SQL that only the server understands fails on SQLite, and the failure falls
back too. core/replay/apply.py uses it there only for a step that failed on Alembic's offline
connection (one that needs rows), and refuses a schema operation the step issues after it used the
stand-in (:func:`refuse_schema_after_rows`) and a step whose file catches exceptions.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic.operations import ops
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.pool import StaticPool

from manage.compat import use_connection_class
from manage.core.replay.inspector import DIALECT_KEY, STATE_KEY, LiveStateInspector
from manage.core.replay.recorder import _data_only, _describe
from manage.core.replay.state import SchemaState

# What a data step may send: reads, writes of rows, transaction control, reflection's PRAGMAs.
_ROWS_ONLY = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|VALUES|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|"
    r"RELEASE|PRAGMA\s+(?:main\.)?\w+\s*(?:\(|;|$))",
    re.IGNORECASE,
)
# Another dialect's project: no PRAGMA (the server would refuse it); REPLACE on MariaDB only.
_ROWS_ONLY_ELSEWHERE = {
    name: re.compile(
        rf"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE"
        rf"{replace})\b",
        re.IGNORECASE,
    )
    for name, replace in (("postgresql", ""), ("mysql", "|REPLACE"), ("mariadb", "|REPLACE"))
}


USED_KEY = "manage_rows_touched"
"""Set in a data step connection's ``info`` once the step has sent a statement through it."""
READS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)
"""A statement that returns rows."""


class SchemaChangeRefused(Exception):
    """A data step sent a statement that may change the schema."""


def _from_sqlalchemy() -> bool:
    """Whether the caller of the caller is SQLAlchemy itself (not the migration's code)."""
    module = str(sys._getframe(2).f_globals.get("__name__", ""))
    return module == "sqlalchemy" or module.startswith("sqlalchemy.")


class _WatchedConnection(Connection):
    """A connection that refuses, in the step's own code, what would tell it it is SQLite."""

    _setting_up = True

    @property
    def dialect(self) -> Dialect:
        if not self._setting_up and not _from_sqlalchemy():
            self._refuse("bind.dialect")
        return self._real_dialect

    @dialect.setter
    def dialect(self, value: Dialect) -> None:
        self._real_dialect = value

    @property
    def engine(self) -> Any:
        if not self._setting_up and not _from_sqlalchemy():
            self._refuse("bind.engine")
        return self._real_engine

    @engine.setter
    def engine(self, value: Any) -> None:
        self._real_engine = value

    @property
    def connection(self) -> Any:
        if not self._setting_up and not _from_sqlalchemy():
            self._refuse("bind.connection")
        return super().connection

    def _run_ddl_visitor(self, *args: Any, **kwargs: Any) -> None:
        if not self._setting_up:
            raise SchemaChangeRefused(
                "its Python code creates or drops schema objects through op.get_bind(), which "
                "may change the schema"
            )
        super()._run_ddl_visitor(*args, **kwargs)

    def _refuse(self, what: str) -> None:
        raise NotLikeTheServer(
            f"its Python code reads {what} of op.get_bind(), which in the in-memory replay is "
            "SQLite, not the project's database"
        )


class NotLikeTheServer(Exception):
    """A data step did something the SQLite stand-in cannot answer as the project's server."""


def refuse_schema_after_rows(connection: Connection, operation: ops.MigrateOperation) -> None:
    """On a stand-in (PostgreSQL, MariaDB): refuse a schema operation issued after the step sent
    a statement through ``connection``, since it may depend on what SQLite answered (the rows
    earlier migrations inserted are not there, SQL computes some values otherwise). Writes of
    rows through ``op`` (``op.execute("UPDATE ...")``, ``op.bulk_insert``) remain allowed."""
    if not connection.info.get(USED_KEY) or not connection.info.get(DIALECT_KEY):
        return
    if isinstance(operation, ops.BulkInsertOp):
        return
    if isinstance(operation, ops.ExecuteSQLOp) and _data_only(operation.sqltext):
        return
    raise NotLikeTheServer(
        f"its Python code issues {_describe(operation)} after sending statements through "
        "op.get_bind(), which in the in-memory replay is SQLite, not the project's database, "
        "so what it does may depend on SQLite's answers"
    )


@contextmanager
def data_bind(state: SchemaState, dialect: Dialect | None = None) -> Iterator[Connection]:
    """A connection to a new in-memory SQLite database with ``state``'s tables, refusing every
    statement but reads and writes of rows; closed afterwards. ``sa.inspect()`` on it answers
    from ``state`` itself, which the operations the migration issues keep up to date (the
    database's tables are those at its first ``op.get_bind()``).

    ``dialect``: the project's, when it is not SQLite (the connection is then watched, see the
    module's docstring)."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    watched = dialect is not None and dialect.name != "sqlite"
    if watched:
        use_connection_class(engine, _WatchedConnection)
    strict = _ROWS_ONLY_ELSEWHERE["postgresql"]
    allowed = _ROWS_ONLY_ELSEWHERE.get(dialect.name, strict) if dialect and watched else _ROWS_ONLY
    try:
        with engine.connect() as connection:
            copy = MetaData()
            for table in state.metadata.tables.values():
                table.to_metadata(copy)
            copy.create_all(connection)
            connection.commit()
            connection.info[STATE_KEY] = state
            if watched:
                connection.info[DIALECT_KEY] = dialect
            # A dialect names the Inspector class sa.inspect() builds (PostgreSQL's PGInspector).
            setattr(engine.dialect, "inspector", LiveStateInspector)  # noqa: B010

            @event.listens_for(connection, "before_cursor_execute")
            def refuse(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                if not allowed.match(statement):
                    first = " ".join(statement.split())[:60]
                    raise SchemaChangeRefused(
                        f"its Python code sends {first!r} through op.get_bind(), which may "
                        "change the schema"
                    )
                if READS.search(statement):
                    if state.may_hold_rows:
                        raise NotLikeTheServer(
                            "its Python code reads rows through op.get_bind() after earlier "
                            "migrations wrote rows, which the in-memory replay does not hold, so "
                            "what it does may depend on them"
                        )
                else:
                    state.rows_written = True  # the next migration's database will not hold them
                connection.info[USED_KEY] = True

            if isinstance(connection, _WatchedConnection):
                connection._setting_up = False
            yield connection
    finally:
        engine.dispose()
