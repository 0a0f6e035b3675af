"""What unapplying migrations would delete: the tables and columns they drop that hold data,
and what cannot be told without running them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from alembic.operations import ops
from sqlalchemy import Select, column, inspect, literal_column, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from manage.core.database import driver_message
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import Step
from manage.core.replay import UnreplayableError, own_enum_sql, record
from manage.core.sqlscan import changes_schema, deleting_keyword, drops_only_a_type, sql_of
from manage.errors import DataLossError, sent_through_the_bind


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
    data, the SQL they run that may delete, and what cannot be told without running them.

    Each downgrade is recorded without running it (core/replay/), and its operations are
    followed in order against the schema as the steps before them leave it (:class:`_Lineage`):
    a table or column renamed by an earlier operation is probed under the name it has in the
    database now, and one an earlier operation made holds nothing yet. A downgrade that cannot
    be recorded (it reads the database), SQL that drops or deletes (read with a tokenizer:
    core/sqlscan.py), and a table that cannot be looked into are reported as unknown. Whether a
    table or column holds data is probed with ``LIMIT 1``, never counted.
    """
    found: list[DataLoss] = []
    lineage = _Lineage()
    for step in steps:
        if step.direction != "unapply":
            continue
        script = env.script.get_revision(step.revision)
        if script is None:
            continue
        bound_sql: list[str] = []
        try:
            recorded = record(script, env.settings.dialect_name, "downgrade", bound_sql)
        except UnreplayableError as exc:
            found.append(
                DataLoss(
                    step.revision,
                    "its downgrade() cannot be inspected without running it",
                    f"{exc}; what it deletes is unknown",
                    known=False,
                )
            )
            lineage.unsure = f"{step.revision}'s downgrade() may have changed the schema"
            continue
        for item in recorded:
            loss = _loss(env, connection, lineage, step.revision, item.operation)
            if loss is not None:
                found.append(loss)
            lineage.apply(step.revision, item.operation, connection.dialect)
        found.extend(  # data statements sent through op.get_bind(): recorded after the rest
            DataLoss(
                step.revision,
                f"runs {sent_through_the_bind(_quoted(sql))}",
                "may delete data",
                known=False,
            )
            for sql in bound_sql
            if deleting_keyword(sql) is not None and not drops_only_a_type(sql)
        )
    return tuple(found)


_Table = tuple[str | None, str]  # (schema, name)


@dataclass
class _Lineage:
    """The schema as the unapply steps so far leave it, as far as its data goes: where the rows
    of each table, and the values of each column, are in the database now.

    A name the steps have not touched is the database's own. A table or column a step made,
    or dropped, or renamed away, holds nothing the database has now (``None``).
    """

    tables: dict[_Table, _Table | None] = field(default_factory=dict)
    columns: dict[tuple[_Table, str], str | None] = field(default_factory=dict)
    """(the table's name in the database now, the column's name at this step) -> its name now."""
    unsure: str | None = None
    """Set once a step ran SQL that may change the schema in ways not followed here."""

    def table(self, schema: str | None, name: str) -> _Table | None:
        return self.tables.get((schema, name), (schema, name))

    def column(self, table: _Table, name: str) -> str | None:
        return self.columns.get((table, name), name)

    def apply(self, revision: str, operation: Any, dialect: Any) -> None:
        schema = _name(getattr(operation, "schema", None))
        if isinstance(operation, ops.CreateTableOp | ops.DropTableOp):
            self.tables[(schema, _name(operation.table_name))] = None
        elif isinstance(operation, ops.RenameTableOp):
            origin = self.table(schema, _name(operation.table_name))
            self.tables[(schema, _name(operation.table_name))] = None
            self.tables[(schema, _name(operation.new_table_name))] = origin
        elif isinstance(operation, ops.AddColumnOp | ops.DropColumnOp | ops.AlterColumnOp):
            table = self.table(schema, _name(operation.table_name))
            if table is None:
                return
            name = _name(
                operation.column.name
                if isinstance(operation, ops.AddColumnOp)
                else operation.column_name
            )
            if isinstance(operation, ops.AlterColumnOp):
                if operation.modify_name is None:
                    return
                self.columns[(table, _name(operation.modify_name))] = self.column(table, name)
            self.columns[(table, name)] = None
        elif isinstance(operation, ops.ExecuteSQLOp):
            sql = sql_of(operation.sqltext, dialect)
            if sql is None or changes_schema(sql):
                self.unsure = f"{revision} runs {_quoted(sql or str(operation.sqltext))}"


def _loss(
    env: MigrationEnvironment,
    connection: Connection,
    lineage: _Lineage,
    revision: str,
    operation: Any,
) -> DataLoss | None:
    if isinstance(operation, ops.ExecuteSQLOp):
        sql = sql_of(operation.sqltext, connection.dialect)
        if sql is None:
            return DataLoss(
                revision,
                f"runs {type(operation.sqltext).__name__} {operation.sqltext!r}",
                "its SQL cannot be rendered; may delete data",
                known=False,
            )
        if deleting_keyword(sql) is None or own_enum_sql(sql):
            return None  # manage's own enum-type steps (DROP TYPE x_old) hold no data
        return DataLoss(revision, f"runs {_quoted(sql)}", "may delete data", known=False)
    if not isinstance(operation, ops.DropTableOp | ops.DropColumnOp):
        return None
    dropped_table = _name(operation.table_name)
    origin = lineage.table(_name(operation.schema), dropped_table)
    dropped = _name(operation.column_name) if isinstance(operation, ops.DropColumnOp) else None
    column_now = None if origin is None or dropped is None else lineage.column(origin, dropped)
    if dropped is None:
        what, detail = f"drops table {dropped_table}", "has rows"
    else:
        what = f"drops column {dropped_table}.{dropped}"
        detail = "has values"
    if origin is None or (dropped is not None and column_now is None):
        return None  # made, dropped or renamed away by an earlier step: holds nothing now
    schema, name = origin
    target = table(name, *([column(column_now)] if column_now else []), schema=schema)
    probe: Select[Any] = select(literal_column("1")).select_from(target).limit(1)
    if column_now is not None:
        probe = probe.where(target.c[column_now].is_not(None))
    try:
        held = _holds_data(connection, probe, name, column_now, schema)
    except DBAPIError as exc:
        reason = driver_message(exc, env.settings.database_url)
        return DataLoss(revision, what, f"could not look into it: {reason}", known=False)
    if held is None:
        if lineage.unsure is None:
            return None  # not in the database: the drop fails, nothing is lost
        return DataLoss(
            revision,
            what,
            f"not in the database now, but {lineage.unsure} before it",
            known=False,
        )
    if not held:
        return None
    if (name, column_now) != (dropped_table, dropped):
        now = f"table {name}" if dropped is None else f"column {name}.{column_now}"
        detail = f"{detail}, as {now} now"
    return DataLoss(revision, what, detail)


@overload
def _name(value: None) -> None: ...
@overload
def _name(value: object) -> str: ...
def _name(value: object) -> str | None:
    """A table, column or schema name as an operation may be given it: a string, a
    ``quoted_name``, or the object itself (``op.drop_column("users", sa.Column(...))``)."""
    if value is None or isinstance(value, str):
        return value
    return str(getattr(value, "name", value))


def _quoted(sql: str) -> str:
    return repr(" ".join(sql.split())[:60])


def _holds_data(
    connection: Connection, probe: Select[Any], name: str, dropped: str | None, schema: str | None
) -> bool | None:
    """Whether ``probe`` finds a row; None when the table or column does not exist."""
    try:
        return connection.execute(probe).first() is not None
    except DBAPIError:
        connection.rollback()
        inspector = inspect(connection)
        if not inspector.has_table(name, schema=schema):
            return None
        if dropped is not None and dropped not in {
            c["name"] for c in inspector.get_columns(name, schema=schema)
        }:
            return None
        raise
    finally:
        connection.rollback()


def refusal(losses: Sequence[DataLoss], *, declined: bool) -> DataLossError:
    """The error for unapplying that would (or may) lose ``losses`` without permission."""
    listed = "".join(f"\n  {loss}" for loss in losses)  # one line each: there may be many
    if declined:
        return DataLossError(f"Nothing was unapplied; the data was kept:{listed}")
    verb = "would" if all(loss.known for loss in losses) else "may"
    return DataLossError(
        f"Unapplying {verb} delete data:{listed}\nBack it up if you need it, then run again "
        "with --allow-data-loss (or answer the prompt in a terminal)."
    )
