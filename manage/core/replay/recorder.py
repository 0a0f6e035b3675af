"""Record the operations a migration issues, without a database (the replay's one op recorder)."""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from sqlalchemy.sql.elements import TextClause

from manage.compat import (
    op_proxy,
    recording_operations,
    replace_get_bind,
    without_autocommit_block,
)
from manage.errors import (
    MigrationError,
    UnreplayableError,
    needs_a_database,
    sent_through_the_bind,
)

Direction = Literal["upgrade", "downgrade"]

# Statements that change data, not the schema: safe to skip when building the schema.
_DATA_ONLY = re.compile(r"^\s*(INSERT|UPDATE|DELETE|SELECT|WITH|MERGE|SET|COPY)\b", re.IGNORECASE)
# Enum types (PostgreSQL): created/dropped by generated migrations; Alembic does not compare them.
_TYPE_DDL = re.compile(r"^\s*(CREATE|DROP)\s+(TYPE|SEQUENCE)\b", re.IGNORECASE)  # issue 16
_SEQUENCE_DDL = re.compile(
    r"""^\s*(?P<verb>CREATE|DROP)\s+SEQUENCE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"""
    r"""(?:(?P<schema>[`"]?\w+[`"]?)\.)?(?P<name>[`"]?\w+[`"]?)""",
    re.IGNORECASE,
)
SEQUENCES = "manage_sequences"
"""The key of ``SchemaState.metadata.info`` holding the replayed sequences."""


class _NotModelled(Exception):
    """An operation the in-memory schema does not represent."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """One operation a migration performs."""

    operation: ops.MigrateOperation
    line: int | None = None
    """The line of the migration file that issued it (``record(..., where=True)``)."""
    autocommit: bool = False
    """Issued inside ``op.get_context().autocommit_block()`` (``record(..., where=True)``)."""


def record(
    script: Script,
    dialect_name: str,
    direction: Direction = "upgrade",
    bound_sql: list[str] | None = None,
    *,
    on_operation: Callable[[ops.MigrateOperation], None] | None = None,
    bind_for: Callable[[Any, Any], Any] | None = None,
    where: bool = False,
    problems: list[str] | None = None,
) -> list[Recorded]:
    """Run ``script``'s upgrade (or downgrade) against a recorder and return its operations.

    Nothing touches a database: ``op.get_bind()`` is Alembic's offline connection (or what
    ``bind_for(offline_connection, dialect)`` makes of it: the replay's, which answers
    ``sa.inspect()`` from the replayed schema), and code that reads rows fails, which is
    reported as an UnreplayableError. ``on_operation`` is told each operation as it is issued
    (so that an inspection later in the same function sees it). The data statements sent
    through ``op.get_bind()`` are added to ``bound_sql`` when given. ``where``: each operation
    says which line issued it and whether inside an ``autocommit_block()`` (the lint's
    questions). With ``problems``, what would raise an UnreplayableError is added there
    instead, and the operations recorded until then are returned (the lint reads what it can).
    """
    recorded: list[Recorded] = []
    buffer = io.StringIO()  # what the migration sends through op.get_bind() lands here
    context = MigrationContext.configure(
        dialect_name=dialect_name, opts={"as_sql": True, "output_buffer": buffer}
    )
    if dialect_name in ("mysql", "mariadb"):
        # Not connected, the dialect cannot know it talks to MariaDB: without this,
        # ``sa.Sequence(...).create(op.get_bind())`` sends nothing and the replay misses it.
        context.dialect.supports_sequences = True

    depth = [0]
    source = os.path.realpath(script.path) if where else ""

    def invoke(operation: ops.MigrateOperation) -> None:
        if where:
            recorded.append(Recorded(operation, _line_in(source), depth[0] > 0))
        else:
            recorded.append(Recorded(operation))
        if on_operation is not None:
            on_operation(operation)

    # Where a transaction ends changes no schema (offline, Alembic emits COMMIT).
    without_autocommit_block(context, depth)
    operations = recording_operations(context, invoke, _BatchTarget)
    if bind_for is not None:
        made: list[Any] = []

        def get_bind() -> Any:  # made when first asked for (a database may be behind it)
            if not made:
                made.append(bind_for(context.bind, context.dialect))
            return made[0]

        replace_get_bind(operations, get_bind)
    function: Callable[[], None] = getattr(script.module, direction)
    try:
        with op_proxy(operations):
            function()
    except MigrationError as exc:
        if problems is not None:
            problems.append(str(exc))
            return recorded
        raise
    except Exception as exc:
        if problems is not None:
            problems.append(f"its {direction}() raised {type(exc).__name__}: {exc}")
            return recorded
        raise UnreplayableError(
            f"Migration {script.revision} cannot be replayed without a database: its "
            f"{direction}() raised {type(exc).__name__}: {exc}",
            script.revision,
        ) from exc
    for statement in _statements(buffer.getvalue()):
        if bound_sql is not None:  # issue 12 point 2 (safety1): the data-loss guard reads them
            bound_sql.append(statement)
        if problems is not None:
            recorded.append(Recorded(ops.ExecuteSQLOp(statement), None, False))
        elif not _data_only(statement) and not _TYPE_DDL.match(statement):
            raise UnreplayableError(
                needs_a_database(
                    f"Migration {script.revision} runs "
                    + sent_through_the_bind(_describe(ops.ExecuteSQLOp(statement)))
                ),
                script.revision,
            )
    return recorded


def _line_in(source: str) -> int | None:
    """The line of ``source`` (a migration file) being run: the innermost frame in it."""
    frame = sys._getframe(2)
    while frame is not None:
        if os.path.realpath(frame.f_code.co_filename) == source:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


@dataclass
class _BatchTarget:
    """What BatchOperations reads to build operations for one table."""

    table_name: str
    schema: str | None


def _statements(sql: str) -> list[str]:
    return [part.strip() for part in sql.split(";") if part.strip()]


def _data_only(sql: Any) -> bool:
    """Only data statements: every one of them (``UPDATE ...; ALTER ...`` is not)."""
    if isinstance(sql, TextClause):
        sql = sql.text
    if isinstance(sql, str):
        parts = _statements(sql)
        return bool(parts) and all(_DATA_ONLY.match(part) for part in parts)
    return bool(getattr(sql, "is_dml", False) or getattr(sql, "is_select", False))


def _describe(operation: ops.MigrateOperation) -> str:
    if isinstance(operation, ops.ExecuteSQLOp):
        text = operation.sqltext if isinstance(operation.sqltext, str) else str(operation.sqltext)
        first = " ".join(text.split())[:60]
        return f"op.execute({first!r})"
    return type(operation).__name__.removesuffix("Op")
