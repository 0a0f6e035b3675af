"""The SQL of one migration, rendered offline for review (``sqlmigrate``): no database, no
version-table statements, no Alembic comments."""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
from pathlib import Path
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.util import to_tuple
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from manage.core.database import connect
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import BASE
from manage.core.settings import describe_exception
from manage.errors import MigrationError, cannot_render_offline

_NOT_DDL = ("PRAGMA", "SELECT", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def migration_sql(
    env: MigrationEnvironment, revision: str, *, backwards: bool = False
) -> tuple[str, bool]:
    """The statements ``revision``'s ``upgrade()`` (or ``downgrade()``) runs on the project's
    dialect, one per paragraph, ending in ``;``, inside BEGIN/COMMIT where DDL is transactional;
    and whether they were recorded by running it on an empty scratch database (SQLite), where
    Python code that reads rows (an ORM session) may run no statement at all: the SQL is then
    empty, not ``BEGIN; COMMIT;``.

    Raises:
        MigrationError: the migration needs a live database (it reads data, or a SQLite batch
            operation must copy the table).
    """
    try:
        return _offline(env, revision, backwards=backwards), False
    except MigrationError:
        if env.settings.dialect_name != "sqlite":
            raise
    # SQLite batch operations copy the table, which Alembic cannot render without reflecting
    # it: run the migration on a scratch SQLite file built from the history, and record it.
    return _recorded_on_scratch_sqlite(env, revision, backwards=backwards), True


def _offline(env: MigrationEnvironment, revision: str, *, backwards: bool) -> str:
    script = env.script.get_revision(revision)
    assert script is not None
    function = "downgrade" if backwards else "upgrade"
    buffer = io.StringIO()
    dialect = env.settings.dialect_name
    context = MigrationContext.configure(
        url=make_url(env.settings.database_url),
        opts={
            "as_sql": True,
            "target_metadata": env.target_metadata(),  # the models' naming convention
            "output_buffer": buffer,
            "literal_binds": True,
            # manage runs SQLite migrations inside BEGIN/COMMIT too (database.make_engine).
            "transactional_ddl": True if dialect == "sqlite" else None,
        },
    )
    transactional = context.impl.transactional_ddl
    try:
        with Operations.context(context):
            if transactional:
                context.impl.emit_begin()
            getattr(script.module, function)()
            if transactional:
                context.impl.emit_commit()
    except Exception as exc:
        reason = " ".join(str(exc).split()).rstrip(".") or "an operation needs a live database"
        if not isinstance(exc, NotImplementedError | SQLAlchemyError):
            reason = describe_exception(exc)
        raise cannot_render_offline(
            f"{revision} {function}()",
            reason,
            f"run 'manage migrate {revision}' against a copy of the database instead",
        ) from exc
    return _tidy(buffer.getvalue())


def _recorded_on_scratch_sqlite(
    env: MigrationEnvironment, revision: str, *, backwards: bool
) -> str:
    script = env.script.get_revision(revision)
    assert script is not None
    parents = to_tuple(script.down_revision) or (BASE,)
    before, after = (revision, parents[0]) if backwards else (parents[0], revision)
    statements: list[str] = []
    version_table = env.settings.version_table

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        text = statement.strip()
        if text.upper().startswith(_NOT_DDL) or version_table in text:
            return
        statements.append(f"{_inline(text, parameters)};")

    with tempfile.TemporaryDirectory(prefix="manage-sqlmigrate-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.sqlite3'}"
        scratch_env = MigrationEnvironment(
            dataclasses.replace(env.settings, database_url=url), metadata=env.target_metadata()
        )
        with connect(url) as connection:
            if before != BASE:
                scratch_env.run(connection, scratch_env.plan((), before), before)
            steps = scratch_env.plan(scratch_env.current(connection), after)
            event.listen(connection, "before_cursor_execute", record)
            scratch_env.run(connection, steps, after)
    if not statements:
        return ""
    return _tidy("\n\n".join(["BEGIN;", *statements, "COMMIT;"]))


def _inline(statement: str, parameters: Any) -> str:
    """SQLite's ``?`` placeholders filled with literals, so the SQL reads (and lints) as run."""
    if not parameters or not isinstance(parameters, tuple | list):
        return statement
    values = iter(parameters)

    def literal(_match: re.Match[str]) -> str:
        value = next(values, None)
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int | float):
            return repr(value)
        return "'" + str(value).replace("'", "''") + "'"

    return re.sub(r"\?(?=(?:[^']*'[^']*')*[^']*$)", literal, statement)


def _tidy(sql: str) -> str:
    """No trailing spaces (SQLAlchemy's DDL ends lines with ``, ``), one blank line between
    statements, a final newline."""
    lines = [line.rstrip().replace("\t", "    ") for line in sql.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return f"{text}\n" if text else ""
