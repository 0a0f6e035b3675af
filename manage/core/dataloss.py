"""What unapplying migrations would delete: the tables and columns they drop that hold data,
and what cannot be told without running them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alembic.operations import ops
from sqlalchemy import column, inspect, literal_column, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select, TextClause

from manage.core.database import driver_message
from manage.core.environment import MigrationEnvironment, Step
from manage.core.replay import UnreplayableError, record
from manage.errors import ManageError

_DELETES = re.compile(
    r"^\s*(?:DROP\s+(?:TABLE|SCHEMA|DATABASE)|TRUNCATE|DELETE)\b|\bDROP\s+COLUMN\b",
    re.IGNORECASE | re.MULTILINE,
)


class DataLossError(ManageError):
    """Unapplying would drop tables or columns holding data, and nobody allowed it."""


@dataclass(frozen=True, slots=True)
class DataLoss:
    """Something a migration's downgrade deletes (or may delete: ``known`` is False)."""

    revision: str
    what: str
    """``drops table book``, ``drops column author.nickname``, ``runs DELETE FROM ...``."""
    detail: str
    """``has rows``, ``has values``, or why it cannot be told."""
    known: bool = True
    """False when manage cannot tell whether data goes, and asks to be sure."""

    def __str__(self) -> str:
        return f"{self.revision}: {self.what} ({self.detail})"


def data_at_risk(
    env: MigrationEnvironment, connection: Connection, steps: Sequence[Step]
) -> tuple[DataLoss, ...]:
    """What the unapply ``steps`` would delete: the tables and columns they drop that hold
    data, the SQL they run that deletes, and what cannot be told without running them.

    Each downgrade is recorded without running it (core/replay.py). One that cannot be (it
    reads the database), SQL that drops or deletes, and a table that cannot be looked into
    (other than one that does not exist) are reported as unknown. Whether a table or column
    holds data is probed with ``LIMIT 1``, never counted, so no big table is scanned.
    """
    found: list[DataLoss] = []
    for step in steps:
        if step.direction != "unapply":
            continue
        script = env.script.get_revision(step.revision)
        if script is None:
            continue
        try:
            recorded = record(script, env.settings.dialect_name, "downgrade")
        except UnreplayableError as exc:
            found.append(
                DataLoss(
                    step.revision,
                    "its downgrade() cannot be inspected without running it",
                    f"{exc}; what it deletes is unknown",
                    known=False,
                )
            )
            continue
        for item in recorded:
            loss = _loss(env, connection, step.revision, item.operation)
            if loss is not None:
                found.append(loss)
    return tuple(found)


def _loss(
    env: MigrationEnvironment, connection: Connection, revision: str, operation: Any
) -> DataLoss | None:
    if isinstance(operation, ops.ExecuteSQLOp):
        sql = _sql_text(operation.sqltext)
        if sql is None:
            return None
        first = " ".join(sql.split())[:60]
        return DataLoss(revision, f"runs {first!r}", "may delete data", known=False)
    probe: Select[Any]
    if isinstance(operation, ops.DropTableOp):
        target = table(operation.table_name, schema=operation.schema)
        probe = select(literal_column("1")).select_from(target).limit(1)
        what, detail = f"drops table {operation.table_name}", "has rows"
        name, dropped = operation.table_name, None
    elif isinstance(operation, ops.DropColumnOp):
        target = table(operation.table_name, column(operation.column_name), schema=operation.schema)
        probe = (
            select(literal_column("1"))
            .select_from(target)
            .where(target.c[operation.column_name].is_not(None))
            .limit(1)
        )
        what = f"drops column {operation.table_name}.{operation.column_name}"
        detail = "has values"
        name, dropped = operation.table_name, operation.column_name
    else:
        return None
    try:
        held = _holds_data(connection, probe, name, dropped, operation.schema)
    except DBAPIError as exc:
        reason = driver_message(exc, env.settings.database_url)
        return DataLoss(revision, what, f"could not look into it: {reason}", known=False)
    return DataLoss(revision, what, detail) if held else None


def _sql_text(sql: Any) -> str | None:
    """The SQL of an ``op.execute`` when it drops or deletes data, else None."""
    if isinstance(sql, TextClause):
        sql = sql.text
    if isinstance(sql, str):
        return sql if _DELETES.search(sql) else None
    if getattr(sql, "is_delete", False):
        return str(sql)
    return None


def _holds_data(
    connection: Connection, probe: Select[Any], name: str, dropped: str | None, schema: str | None
) -> bool:
    """Whether ``probe`` finds a row; a table or column that does not exist holds none."""
    try:
        return connection.execute(probe).first() is not None
    except DBAPIError:
        connection.rollback()
        inspector = inspect(connection)
        if not inspector.has_table(name, schema=schema):
            return False
        if dropped is not None and dropped not in {
            c["name"] for c in inspector.get_columns(name, schema=schema)
        }:
            return False
        raise
    finally:
        connection.rollback()


def refusal(losses: Sequence[DataLoss], *, declined: bool) -> DataLossError:
    """The error for unapplying that would (or may) lose ``losses`` without permission."""
    listed = "; ".join(str(loss) for loss in losses)
    if declined:
        return DataLossError(f"Nothing was unapplied; the data was kept ({listed}).")
    verb = "would" if all(loss.known for loss in losses) else "may"
    return DataLossError(
        f"Unapplying {verb} delete data: {listed}. Back it up if you need it, then run again "
        "with --allow-data-loss (or answer the prompt in a terminal)."
    )
