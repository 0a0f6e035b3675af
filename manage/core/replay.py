"""Replay migration files without a database: record each migration's operations, and build the
schema they produce in memory (the way Django builds its project state from migration files)."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import pickle
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic.autogenerate import compare as alembic_compare
from alembic.autogenerate.api import AutogenContext
from alembic.operations import BatchOperations, Operations, ops
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from sqlalchemy import (
    CheckConstraint,
    Column,
    Enum,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect, Inspector, make_url
from sqlalchemy.schema import DefaultClause
from sqlalchemy.sql.ddl import CreateSchema, DropSchema
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from manage.core.compare_plugin import OPTIONS as SERVER_DEFAULTS
from manage.core.compare_plugin import schema_options
from manage.core.defaults import enum_values_changed
from manage.core.runnable import constraint_name, unnamed_constraint
from manage.errors import MigrationError

Direction = Literal["upgrade", "downgrade"]

# Statements that change data, not the schema: safe to skip when building the schema.
_DATA_ONLY = re.compile(r"^\s*(INSERT|UPDATE|DELETE|SELECT|WITH|MERGE|SET|COPY)\b", re.IGNORECASE)
# Enum types (PostgreSQL): created/dropped by generated migrations; Alembic does not compare them.
_TYPE_DDL = re.compile(r"^\s*(CREATE|DROP)\s+(TYPE|SEQUENCE)\b", re.IGNORECASE)  # issue 16


class UnreplayableError(MigrationError):
    """A migration does something whose effect on the schema cannot be known without a database."""

    def __init__(self, message: str, revision: str) -> None:
        super().__init__(message)
        self.revision = revision


class _NotModelled(Exception):
    """An operation the in-memory schema does not represent."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """One operation a migration performs; ``batch_table`` is set inside ``batch_alter_table``."""

    operation: ops.MigrateOperation


def record(
    script: Script,
    dialect_name: str,
    direction: Direction = "upgrade",
    bound_sql: list[str] | None = None,
) -> list[Recorded]:
    """Run ``script``'s upgrade (or downgrade) against a recorder and return its operations.

    Nothing touches a database: ``op.get_bind()`` is Alembic's offline connection, and code
    that reads the database fails, which is reported as an UnreplayableError. The data
    statements sent through ``op.get_bind()`` are added to ``bound_sql`` when given.
    """
    recorded: list[Recorded] = []
    buffer = io.StringIO()  # what the migration sends through op.get_bind() lands here
    context = MigrationContext.configure(
        dialect_name=dialect_name, opts={"as_sql": True, "output_buffer": buffer}
    )
    operations = Operations(context)

    def invoke(operation: ops.MigrateOperation) -> None:
        recorded.append(Recorded(operation))

    @contextmanager
    def batch_alter_table(
        table_name: str, schema: str | None = None, **_kw: Any
    ) -> Iterator[BatchOperations]:
        impl = _BatchTarget(table_name, schema)
        batch = BatchOperations(context, impl=impl)  # type: ignore[arg-type]
        batch.invoke = invoke  # type: ignore[method-assign, assignment]
        yield batch

    @contextmanager
    def autocommit_block() -> Iterator[None]:
        yield  # where a transaction ends changes no schema (offline, Alembic emits COMMIT)

    context.autocommit_block = autocommit_block  # type: ignore[method-assign]
    # Instance attributes: Alembic's ``op`` proxy only knows the Operations class itself.
    operations.invoke = invoke  # type: ignore[method-assign, assignment]
    operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign, assignment]
    function: Callable[[], None] = getattr(script.module, direction)
    operations._install_proxy()
    try:
        function()
    except MigrationError:
        raise
    except Exception as exc:
        raise UnreplayableError(
            f"Migration {script.revision} cannot be replayed without a database: its "
            f"{direction}() raised {type(exc).__name__}: {exc}",
            script.revision,
        ) from exc
    finally:
        operations._remove_proxy()
    for statement in _statements(buffer.getvalue()):
        if bound_sql is not None:  # issue 12 point 2 (safety1): the data-loss guard reads them
            bound_sql.append(statement)
        if not _data_only(statement) and not _TYPE_DDL.match(statement):
            raise UnreplayableError(
                f"Migration {script.revision} runs {_describe(ops.ExecuteSQLOp(statement))} "
                "through op.get_bind(), whose effect on the schema cannot be known without a "
                "database",
                script.revision,
            )
    return recorded


@dataclass
class _BatchTarget:
    """What BatchOperations reads to build operations for one table."""

    table_name: str
    schema: str | None


class SchemaState:
    """Tables as a sequence of migrations leaves them, as SQLAlchemy Table objects."""

    def __init__(self, dialect_name: str = "") -> None:
        self.metadata = MetaData()
        self.dialect_name = dialect_name
        self.renamed_enums: dict[tuple[str | None, str | None], bool] = {}
        """Enum types a migration renamed to <name>_old: False, then True once created anew."""

    def tables(self) -> dict[str, Table]:
        return dict(self.metadata.tables)

    def apply(self, revision: str, operation: ops.MigrateOperation) -> None:
        """Change the state as the database would; unknown operations raise UnreplayableError."""
        handler = _HANDLERS.get(type(operation))
        if handler is None:
            if isinstance(operation, ops.ExecuteSQLOp) and _data_only(operation.sqltext):
                return
            if isinstance(operation, ops.ExecuteSQLOp) and _enum_type_ddl(self, operation):
                return
            if isinstance(operation, ops.BulkInsertOp):
                return
            if isinstance(operation, ops.ExecuteSQLOp) and isinstance(
                operation.sqltext, CreateSchema | DropSchema
            ):  # issue 16: a schema holds no table yet
                return
            raise UnreplayableError(
                f"Migration {revision} runs {_describe(operation)}, whose effect on the schema "
                "cannot be known without a database",
                revision,
            )
        try:
            handler(self, operation)
        except UnreplayableError:
            raise
        except _NotModelled as exc:
            raise UnreplayableError(
                f"Migration {revision} runs {_describe(operation)} with {exc}, which the "
                "in-memory replay does not model",
                revision,
            ) from exc
        except (KeyError, ValueError) as exc:
            raise UnreplayableError(
                f"Migration {revision} runs {_describe(operation)} on something the history "
                f"does not have ({exc})",
                revision,
            ) from exc

    # -- helpers ---------------------------------------------------------------------------------

    def table(self, name: str, schema: str | None = None) -> Table:
        key = f"{schema}.{name}" if schema else name
        return self.metadata.tables[key]

    def rebuild(
        self,
        table: Table,
        *,
        name: str | None = None,
        columns: Sequence[Column[Any]] | None = None,
        keep: Callable[[Any], bool] = lambda item: True,
        renamed: dict[str, str] | None = None,
        targets: dict[str, str] | None = None,
        without: str | None = None,
    ) -> Table:
        """Replace ``table`` by a copy with other columns, without the constraints and indexes
        ``keep`` rejects, with renamed columns, under another name, with foreign keys pointing
        at ``targets`` (old ``table.column`` -> new), or with column ``without`` taken out of
        the indexes and unique constraints that keep it."""
        renamed = renamed or {}
        targets = targets or {}
        new_columns = [
            _plain_copy(c, renamed.get(c.name, c.name)) for c in (columns or table.columns)
        ]
        names = {c.name for c in new_columns}
        primary = [renamed.get(c.name, c.name) for c in table.primary_key.columns]
        parts: list[Any] = []
        if primary and set(primary) <= names:
            parts.append(PrimaryKeyConstraint(*primary, name=_name(table.primary_key.name)))
        for constraint in table.constraints:
            if not isinstance(constraint, PrimaryKeyConstraint) and keep(constraint):
                parts.append(_copy_constraint(constraint, renamed, targets, without))
        for index in table.indexes:
            if keep(index):
                parts.append(
                    Index(
                        index.name,
                        *[renamed.get(c.name, c.name) for c in index.columns if c.name != without],
                        unique=bool(index.unique),
                        **index.kwargs,
                    )
                )
        self.metadata.remove(table)
        return Table(
            name or table.name,
            self.metadata,
            *new_columns,
            *parts,
            schema=table.schema,
            comment=table.comment,
        )


def _plain_copy(column: Column[Any], name: str) -> Column[Any]:
    """The column alone: no foreign keys, unique or index flags (the table keeps those)."""
    return Column(
        name,
        column.type,
        nullable=column.nullable,
        server_default=column.server_default,
        comment=column.comment,
        autoincrement=column.autoincrement,
    )


def _copy_constraint(
    constraint: Any, renamed: dict[str, str], targets: dict[str, str], without: str | None
) -> Any:
    def col(name: str) -> str:
        return renamed.get(name, name)

    if isinstance(constraint, ForeignKeyConstraint):
        return ForeignKeyConstraint(
            [col(c.name) for c in constraint.columns],
            [targets.get(e.target_fullname, e.target_fullname) for e in constraint.elements],
            name=constraint.name,
            ondelete=constraint.ondelete,
            onupdate=constraint.onupdate,
            deferrable=constraint.deferrable,
            initially=constraint.initially,
            use_alter=constraint.use_alter,
        )
    if isinstance(constraint, UniqueConstraint):
        kept = [col(c.name) for c in constraint.columns if c.name != without]
        return UniqueConstraint(*kept, name=constraint.name)
    if isinstance(constraint, CheckConstraint):
        return CheckConstraint(constraint.sqltext, name=constraint.name)
    raise ValueError(f"unsupported constraint {type(constraint).__name__}")


def _name(name: Any) -> str | None:
    return None if name is None else str(name)


def _mysql_name(column: str, taken: set[str]) -> str:
    """The name MySQL gives an unnamed key: its first column's, else with ``_2``, ``_3``..."""
    name, number = column, 2
    while name.lower() in {t.lower() for t in taken}:
        name, number = f"{column}_{number}", number + 1
    return name


def _uses(item: Any, column: str) -> bool:
    columns = getattr(item, "columns", None)
    return columns is not None and any(c.name == column for c in columns)


def _create_table(state: SchemaState, op: ops.CreateTableOp) -> None:
    table = op.to_table()
    table.to_metadata(state.metadata)


def _drop_table(state: SchemaState, op: ops.DropTableOp) -> None:
    state.metadata.remove(state.table(op.table_name, op.schema))


def _rename_table(state: SchemaState, op: ops.RenameTableOp) -> None:
    table = state.table(op.table_name, op.schema)
    moved = {f"{table.name}.{c.name}": f"{op.new_table_name}.{c.name}" for c in table.columns}
    state.rebuild(table, name=op.new_table_name, targets=moved)
    _retarget(state, moved)


def _retarget(state: SchemaState, targets: dict[str, str]) -> None:
    """Point other tables' foreign keys at a renamed table or column, as the database does."""
    for table in list(state.metadata.tables.values()):
        if any(
            e.target_fullname in targets
            for fk in table.foreign_key_constraints
            for e in fk.elements
        ):
            state.rebuild(table, targets=targets)


def _add_column(state: SchemaState, op: ops.AddColumnOp) -> None:
    table = state.table(op.table_name, op.schema)
    column = op.column
    table = state.rebuild(table, columns=[*table.columns, column])
    for fk in column.foreign_keys:
        table.append_constraint(
            ForeignKeyConstraint(
                [column.name],
                [fk.target_fullname],
                name=fk.name,
                ondelete=fk.ondelete,
                onupdate=fk.onupdate,
            )
        )
    if column.unique:
        table.append_constraint(UniqueConstraint(column.name))
    if column.index:
        Index(None, table.c[column.name])


def _drop_column(state: SchemaState, op: ops.DropColumnOp) -> None:
    table = state.table(op.table_name, op.schema)
    name = op.column_name
    if name not in table.c:
        raise KeyError(f"column {op.table_name}.{name}")
    # The database drops the indexes and constraints that use the column with it; MySQL and
    # MariaDB only take the column out of a multi-column index or unique constraint.
    shrinks = state.dialect_name in ("mysql", "mariadb")

    def keep(item: Any) -> bool:
        if not _uses(item, name):
            return True
        several = len(item.columns) > 1
        return shrinks and several and isinstance(item, Index | UniqueConstraint)

    state.rebuild(
        table,
        columns=[c for c in table.columns if c.name != name],
        keep=keep,
        without=name,
    )


def _alter_column(state: SchemaState, op: ops.AlterColumnOp) -> None:
    table = state.table(op.table_name, op.schema)
    column = table.c[op.column_name]
    if op.modify_type is not None:
        column.type = op.modify_type
    if op.modify_nullable is not None:
        column.nullable = op.modify_nullable
    if op.modify_server_default is not False:
        default = op.modify_server_default
        column.server_default = (
            None
            if default is None
            else default
            if isinstance(default, DefaultClause)
            else DefaultClause(default)
        )
    if op.modify_comment is not False:
        column.comment = op.modify_comment
    if op.modify_name is not None:
        moved = {f"{table.name}.{op.column_name}": f"{table.name}.{op.modify_name}"}
        state.rebuild(table, renamed={op.column_name: op.modify_name}, targets=moved)
        _retarget(state, moved)


def _create_index(state: SchemaState, op: ops.CreateIndexOp) -> None:
    if not all(isinstance(c, str | Column) for c in op.columns):
        raise _NotModelled("an index on an expression")
    table = state.table(op.table_name, op.schema)
    columns = [table.c[c] if isinstance(c, str) else c for c in op.columns]
    Index(op.index_name, *columns, unique=bool(op.unique), **op.kw)


def _drop_index(state: SchemaState, op: ops.DropIndexOp) -> None:
    if op.table_name:
        tables = [state.table(op.table_name, op.schema)]
    else:
        tables = list(state.metadata.tables.values())
    for table in tables:
        if _discard_named(table, op.index_name):
            return
    raise KeyError(f"index {op.index_name}")


def _discard_named(table: Table, name: str | None) -> bool:
    """Drop the index or constraint called ``name``: on MySQL/MariaDB a unique constraint is an
    index, and Alembic drops it with drop_index (and an index with drop_constraint)."""
    for index in list(table.indexes):
        if index.name == name:
            table.indexes.discard(index)
            return True
    for constraint in list(table.constraints):
        if constraint.name == name and not isinstance(constraint, PrimaryKeyConstraint):
            table.constraints.discard(constraint)
            if isinstance(constraint, ForeignKeyConstraint):
                for element in constraint.elements:
                    element.parent.foreign_keys.discard(element)
                    table.foreign_keys.discard(element)  # issue 16: else it stays listed
            return True
    # issue 16: an unnamed constraint, dropped by the name the database gave it
    unnamed = unnamed_constraint(table, name)
    return unnamed is not None and _discard_named(table, unnamed)


def _add_constraint(state: SchemaState, op: ops.AddConstraintOp) -> None:
    constraint: Any
    if isinstance(op, ops.CreateForeignKeyOp):
        table = state.table(op.source_table, op.kw.get("source_schema"))
        schema = op.kw.get("referent_schema")
        referent = f"{schema}.{op.referent_table}" if schema else op.referent_table
        options = ("ondelete", "onupdate", "deferrable", "initially")
        constraint = ForeignKeyConstraint(
            list(op.local_cols),
            [f"{referent}.{c}" for c in op.remote_cols],
            name=_name(op.constraint_name),
            **{k: v for k, v in op.kw.items() if k in options},
        )
    elif isinstance(op, ops.CreateUniqueConstraintOp):
        table = state.table(op.table_name, op.schema)
        constraint = UniqueConstraint(*op.columns, name=_name(op.constraint_name))
    elif isinstance(op, ops.CreateCheckConstraintOp):
        table = state.table(op.table_name, op.schema)
        constraint = CheckConstraint(op.condition, name=_name(op.constraint_name))
    elif isinstance(op, ops.CreatePrimaryKeyOp):
        table = state.table(op.table_name, op.schema)
        for column in table.columns:
            column.primary_key = column.name in op.columns
        constraint = PrimaryKeyConstraint(*op.columns, name=_name(op.constraint_name))
    else:
        raise ValueError(f"unsupported constraint operation {type(op).__name__}")
    table.append_constraint(constraint)


def _drop_constraint(state: SchemaState, op: ops.DropConstraintOp) -> None:
    if not _discard_named(state.table(op.table_name, op.schema), _name(op.constraint_name)):
        raise KeyError(f"constraint {op.constraint_name}")


def _table_comment(
    state: SchemaState, op: ops.CreateTableCommentOp | ops.DropTableCommentOp
) -> None:
    table = state.table(op.table_name, op.schema)
    table.comment = op.comment if isinstance(op, ops.CreateTableCommentOp) else None


_HANDLERS: dict[type[Any], Callable[[SchemaState, Any], None]] = {
    ops.CreateTableOp: _create_table,
    ops.DropTableOp: _drop_table,
    ops.RenameTableOp: _rename_table,
    ops.AddColumnOp: _add_column,
    ops.DropColumnOp: _drop_column,
    ops.AlterColumnOp: _alter_column,
    ops.CreateIndexOp: _create_index,
    ops.DropIndexOp: _drop_index,
    ops.CreateForeignKeyOp: _add_constraint,
    ops.CreateUniqueConstraintOp: _add_constraint,
    ops.CreateCheckConstraintOp: _add_constraint,
    ops.CreatePrimaryKeyOp: _add_constraint,
    ops.DropConstraintOp: _drop_constraint,
    ops.CreateTableCommentOp: _table_comment,
    ops.DropTableCommentOp: _table_comment,
}


# What makemigrations writes when the values of a PostgreSQL enum change (environment.py's
# EnumValuesOp): values added in place, or the type renamed to <name>_old, created anew, the
# columns cast to it with alter_column (which the replay follows), and the old type dropped.
# Each statement is matched alone (no DOTALL: nothing may follow it).
_IDENT = r'(?:"[^"]+"|\w+)'
_TYPE = rf"(?:(?P<schema>{_IDENT})\.)?(?P<name>{_IDENT})"
_ADD_ENUM_VALUE = re.compile(
    rf"^ALTER TYPE {_TYPE} ADD VALUE (?:IF NOT EXISTS )?'(?P<value>(?:[^']|'')*)'"
    r"(?: (?P<where>BEFORE|AFTER) '(?P<other>(?:[^']|'')*)')?$"
)
_RENAME_ENUM = re.compile(rf"^ALTER TYPE {_TYPE} RENAME TO (?P<to>{_IDENT})$")
_CREATE_ENUM = re.compile(rf"^CREATE TYPE {_TYPE} AS ENUM \((?:[^;'()]|'(?:[^']|'')*')*\)$")
_DROP_ENUM = re.compile(rf"^DROP TYPE {_TYPE}$")


def _unquote(name: str | None) -> str | None:
    if name is not None and name.startswith('"'):
        return name[1:-1]
    return name


def _enum_type_ddl(state: SchemaState, operation: ops.ExecuteSQLOp) -> bool:
    """Follow manage's own enum-type statements; False for any other SQL (then nothing of it is
    applied: every statement of the string must be one of them)."""
    sql = operation.sqltext
    if not isinstance(sql, str) or state.dialect_name != "postgresql":
        return False
    parts = _statements(sql)
    if len(parts) != 1:
        return False
    sql = parts[0]
    if found := _RENAME_ENUM.match(sql):
        key = (_unquote(found["schema"]), _unquote(found["name"]))
        if _unquote(found["to"]) != f"{key[1]}_old" or not _enum_columns(state, *key):
            return False
        state.renamed_enums[key] = False  # renamed away; CREATE TYPE and DROP TYPE follow
        return True
    if found := _CREATE_ENUM.match(sql):
        key = (_unquote(found["schema"]), _unquote(found["name"]))
        if state.renamed_enums.get(key) is not False:
            return False
        state.renamed_enums[key] = True  # the columns move to it through alter_column
        return True
    if found := _DROP_ENUM.match(sql):
        schema, name = _unquote(found["schema"]), _unquote(found["name"]) or ""
        key = (schema, name.removesuffix("_old"))
        if not name.endswith("_old") or state.renamed_enums.get(key) is not True:
            return False
        del state.renamed_enums[key]
        return True
    found = _ADD_ENUM_VALUE.match(sql)
    if found is None:
        return False
    value = found["value"].replace("''", "'")
    for column in _enum_columns(state, _unquote(found["schema"]), _unquote(found["name"])):
        type_ = _unwrapped(column.type)
        assert isinstance(type_, Enum)
        if value in type_.enums:
            continue
        values = list(type_.enums)
        other = (found["other"] or "").replace("''", "'")
        at = len(values)
        if other in values:
            at = values.index(other) + (found["where"] == "AFTER")
        values.insert(at, value)
        column.type = Enum(
            *values,
            name=type_.name,
            schema=type_.schema,
            create_type=False,
            native_enum=type_.native_enum,
        )
    return True


def own_enum_sql(sql: Any) -> bool:
    """Whether ``sql`` is one of the enum-type statements makemigrations itself writes
    (:func:`_enum_type_ddl` follows them in order), not a hand-written step."""
    if isinstance(sql, TextClause):
        sql = sql.text
    if not isinstance(sql, str) or len(parts := _statements(sql)) != 1:
        return False
    if found := _RENAME_ENUM.match(parts[0]):
        return _unquote(found["to"]) == f"{_unquote(found['name'])}_old"
    if found := _DROP_ENUM.match(parts[0]):
        return (_unquote(found["name"]) or "").endswith("_old")
    return any(form.match(parts[0]) for form in (_CREATE_ENUM, _ADD_ENUM_VALUE))


_OWN_ENUM_STEP = re.compile(r"\.(create|drop)\(\s*op\.get_bind\(\),\s*checkfirst=True,?\s*\)")


def hand_written_steps(source: str) -> bool:
    """Whether a migration's source runs SQL or reads data (``op.execute``, ``op.get_bind``)
    other than the enum-type statements manage writes itself."""
    if "get_bind(" in _OWN_ENUM_STEP.sub("", source):
        return True
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "op.execute(" in source
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "op"
        ):
            continue
        first = node.args[0] if node.args else None
        if not (isinstance(first, ast.Constant) and own_enum_sql(first.value)):
            return True
    return False


def _enum_columns(state: SchemaState, schema: str | None, name: str | None) -> list[Column[Any]]:
    """The columns of the replayed schema whose type is enum ``schema.name``."""
    return [
        column
        for table in state.metadata.tables.values()
        for column in table.columns
        if isinstance(type_ := _unwrapped(column.type), Enum)
        and type_.name == name
        and type_.schema == schema
    ]


def _unwrapped(type_: Any) -> Any:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def apply_script(state: SchemaState, script: Script) -> None:
    """Apply the upgrade of ``script`` to ``state``."""
    for item in record(script, state.dialect_name):
        state.apply(script.revision, item.operation)
    if state.renamed_enums:
        (schema, name), *_ = state.renamed_enums
        state.renamed_enums.clear()
        raise UnreplayableError(
            f"Migration {script.revision} renames enum type "
            f"{f'{schema}.' if schema else ''}{name} to {name}_old without recreating it and "
            "dropping the old one as manage does, whose effect on the schema cannot be known "
            "without a database",
            script.revision,
        )


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


KEEP_REPLAYS = 24
"""Replayed histories kept in the cache; the least recently written go first."""
LOOKBACK = 8
"""How many migrations back a replay looks for a remembered shorter history to continue."""


def replay_cached(
    scripts: Sequence[Script], dialect_name: str, cache: Path, *, also: Sequence[Path] = ()
) -> tuple[SchemaState, Path | None]:
    """:func:`replay`, remembered in ``cache`` under a hash of the migration files, the project
    modules they import (``also``), the dialect and the library versions, so an unchanged
    history is not replayed again, and a history that grew by a few migrations replays only
    those. Returns the state and the file it is remembered in (None when it cannot be)."""
    from manage.core.answers import library_stamps

    seed = hashlib.sha256(json.dumps([dialect_name, library_stamps()], sort_keys=True).encode())
    for file in also:
        seed.update(str(file).encode() + b"\0" + file.read_bytes())
    digests = [seed.hexdigest()[:40]]
    for script in scripts:  # each prefix of the history has a key of its own
        file = Path(script.path)
        digest = hashlib.sha256(digests[-1].encode() + str(file).encode() + b"\0")
        digest.update(file.read_bytes())
        digests.append(digest.hexdigest()[:40])
    path = cache / f"{digests[-1]}.pickle"
    state = load_state(path, dialect_name)
    if state is not None:
        return state, path
    state, done = SchemaState(dialect_name), 0
    for known in range(len(scripts) - 1, max(len(scripts) - LOOKBACK, 0) - 1, -1):
        if (earlier := load_state(cache / f"{digests[known]}.pickle", dialect_name)) is not None:
            state, done = earlier, known
            break
    for script in scripts[done:]:
        apply_script(state, script)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(pickle.dumps(state.metadata))
        temporary.replace(path)
    except Exception:  # e.g. a type defined inside a migration cannot be pickled
        return state, None
    from manage.core.insync import prune

    prune(cache, "*.pickle", KEEP_REPLAYS)
    return state, path


def load_state(path: Path, dialect_name: str) -> SchemaState | None:
    """The state :func:`replay_cached` remembered in ``path``, or None if it is gone."""
    try:
        state = SchemaState(dialect_name)
        state.metadata = pickle.loads(path.read_bytes())
    except Exception:
        return None
    return state


MAX_TABLES_APART = 8
"""A check comparing more tables than this loads the whole replayed state instead."""


def _tables_file(state_file: Path) -> Path:
    return state_file.with_name(state_file.name.removesuffix(".pickle") + ".tables")


def save_tables_apart(
    state: SchemaState, state_file: Path, faithful: Callable[[Table, Table], bool]
) -> None:
    """Beside ``state_file``, each table of ``state`` pickled on its own (copied into a MetaData
    of its own), so that a check comparing a few tables unpickles only those. A table whose
    copy is not ``faithful(table, copy)`` is left out: a check needing it loads everything."""
    path = _tables_file(state_file)
    if path.exists():  # saved by an earlier check: the same state file holds the same tables
        return
    apart: dict[str, bytes] = {}
    for name, table in state.metadata.tables.items():
        try:
            copy = table.to_metadata(MetaData())
            if faithful(table, copy):
                apart[name] = pickle.dumps(copy.metadata)
        except Exception:  # cannot be copied or pickled alone: left out
            continue
    try:
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(pickle.dumps(apart))
        temporary.replace(path)
    except OSError:  # a read-only cache only costs speed
        return
    from manage.core.insync import prune

    prune(path.parent, "*.tables", KEEP_REPLAYS)


def load_tables(
    state_file: Path,
    dialect_name: str,
    names: Collection[str],
    faithful: Callable[[str, Table], bool],
) -> SchemaState | None:
    """The tables ``names`` of the state remembered in ``state_file``, from the tables saved
    apart (foreign keys name their targets, which need not be there: a comparison reflects no
    referred table); else the whole state (None if it is gone). Tables saved apart are joined
    into one MetaData only if each copy stays ``faithful(name, copy)``."""
    if len(names) <= MAX_TABLES_APART:
        try:
            apart = pickle.loads(_tables_file(state_file).read_bytes())
            alone = [pickle.loads(apart[name]) for name in sorted(names)]
            state = SchemaState(dialect_name)
            if len(alone) == 1:
                state.metadata = alone[0]
            else:
                for metadata in alone:
                    for table in metadata.tables.values():
                        table.to_metadata(state.metadata)
                if not all(faithful(name, state.table(name)) for name in names):
                    raise ValueError("a joined table differs")
            return state
        except Exception:  # absent, damaged, a table left out: the whole state
            pass
    return load_state(state_file, dialect_name)


def replay(scripts: Sequence[Script], dialect_name: str) -> SchemaState:
    """The schema ``scripts`` (oldest first) build, without a database."""
    state = SchemaState(dialect_name)
    for script in scripts:
        apply_script(state, script)
    return state


class StateInspector(Inspector):
    """An Inspector that answers from a SchemaState instead of a database.

    Alembic (1.14+) hands SQLAlchemy's ``reflect_table`` a complete reflection record built from
    these ``get_*`` methods, so SQLAlchemy itself builds the "reflected" tables and Alembic's
    comparators run unchanged; nothing connects anywhere.
    """

    _op_context_requires_connect = False

    def __init__(self, state: SchemaState, dialect: Dialect) -> None:  # no super(): no bind
        self.state = state
        self.dialect = dialect
        self.bind = self  # type: ignore[assignment]
        self.engine = None  # type: ignore[assignment]
        self.info_cache = {}

    def schema_for_object(self, obj: Any) -> str | None:
        return getattr(obj, "schema", None)

    def _schema(self, schema: str | None) -> str | None:
        """None for the connection's default schema, which a database also reports as None."""
        return None if schema == self.dialect.default_schema_name else schema

    def _table(self, name: str, schema: str | None) -> Table:
        for table in self.state.metadata.tables.values():
            if table.name == name and self._schema(table.schema) == self._schema(schema):
                return table
        return self.state.table(name, schema)

    def get_schema_names(self, **_kw: Any) -> list[str]:
        # issue 16: the schemas that hold tables (include_schemas)
        return sorted({str(t.schema) for t in self.state.metadata.tables.values() if t.schema})

    def get_table_names(self, schema: str | None = None, **_kw: Any) -> list[str]:
        wanted = self._schema(schema)
        return sorted(
            t.name for t in self.state.metadata.tables.values() if self._schema(t.schema) == wanted
        )

    def get_view_names(self, schema: str | None = None, **_kw: Any) -> list[str]:
        return []

    def get_columns(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        table = self._table(table_name, schema)
        return [
            {
                "name": column.name,
                "type": _reflected_type(column.type, self.dialect),
                "nullable": bool(column.nullable),
                "default": _default_text(column, self.dialect),
                "autoincrement": column.autoincrement,
                "comment": column.comment,
                # issue 16: a generated column reflects as one
                **(
                    {"computed": {"sqltext": str(column.computed.sqltext)}}
                    if column.computed is not None
                    else {}
                ),
            }
            for column in table.columns
        ]

    def get_pk_constraint(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        key = self._table(table_name, schema).primary_key
        return {"constrained_columns": [c.name for c in key.columns], "name": _name(key.name)}

    def get_foreign_keys(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        result = []
        for fk in self._table(table_name, schema).foreign_key_constraints:
            target = fk.elements[0].target_fullname.split(".")
            options = {
                k: v
                for k, v in (
                    ("ondelete", fk.ondelete),
                    ("onupdate", fk.onupdate),
                    ("deferrable", fk.deferrable),
                    ("initially", fk.initially),
                )
                if v is not None
            }
            result.append(
                {
                    "name": _name(fk.name),
                    "constrained_columns": [c.name for c in fk.columns],
                    "referred_schema": self._schema(target[0]) if len(target) == 3 else None,
                    "referred_table": target[-2],
                    "referred_columns": [e.target_fullname.split(".")[-1] for e in fk.elements],
                    "options": options,
                }
            )
        return result

    def get_indexes(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        table = self._table(table_name, schema)
        indexes: list[dict[str, Any]] = [
            {
                "name": _name(index.name),
                "column_names": [c.name for c in index.columns],
                "unique": bool(index.unique),
            }
            for index in sorted(table.indexes, key=lambda i: str(i.name))
        ]
        # Reflection shapes differ: MySQL keeps a unique constraint as a unique index, and
        # indexes a foreign key's columns itself; PostgreSQL lists a unique constraint's index too.
        if self.dialect.name in ("mysql", "mariadb", "postgresql"):
            for unique in self._uniques(table):
                entry = {"name": unique["name"], "column_names": unique["column_names"]}
                if self.dialect.name == "postgresql":
                    entry["duplicates_constraint"] = unique["name"]
                indexes.append({**entry, "unique": True})
        if self.dialect.name in ("mysql", "mariadb"):
            covered: list[list[str]] = [ix["column_names"] for ix in indexes]
            for fk in table.foreign_key_constraints:
                columns = [c.name for c in fk.columns]
                if not any(c[: len(columns)] == columns for c in covered):
                    name = _name(fk.name) or columns[0]
                    indexes.append({"name": name, "column_names": columns, "unique": False})
                    covered.append(columns)
        return indexes

    def _uniques(self, table: Table) -> list[dict[str, Any]]:
        """The unique constraints, an unnamed one named as the server names it."""
        uniques = []
        taken = {str(index.name) for index in table.indexes if index.name is not None}
        taken |= {str(u.name) for u in table.constraints if u.name is not None}
        for u in table.constraints:
            if not isinstance(u, UniqueConstraint):
                continue
            columns = [c.name for c in u.columns]
            name = _name(u.name)
            if name is None and self.dialect.name == "postgresql":
                name = constraint_name(table.name, columns, "key")
            elif name is None and self.dialect.name in ("mysql", "mariadb") and columns:
                name = _mysql_name(columns[0], taken)  # MySQL: the first column's name
                taken.add(name)
            uniques.append({"name": name, "column_names": columns})
        return uniques

    def get_unique_constraints(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        uniques = self._uniques(self._table(table_name, schema))
        if self.dialect.name in ("mysql", "mariadb"):
            return [{**u, "duplicates_index": u["name"]} for u in uniques]
        return uniques

    def get_check_constraints(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        return [
            {"name": _name(c.name), "sqltext": str(c.sqltext)}
            for c in self._table(table_name, schema).constraints
            if isinstance(c, CheckConstraint)
        ]

    def get_table_comment(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        return {"text": self._table(table_name, schema).comment}

    def get_table_options(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        return {}


def _multi(key: str) -> Callable[..., Any]:
    """``get_multi_<key>``: the per-table ``get_<key>`` for every table asked for."""

    def get_multi(
        self: StateInspector,
        schema: str | None = None,
        filter_names: Sequence[str] | None = None,
        **_kw: Any,
    ) -> Any:
        per_table = getattr(self, f"get_{key}")
        names = filter_names if filter_names is not None else self.get_table_names(schema)
        return {(schema, name): per_table(name, schema) for name in names}

    # Alembic asks the dialect whether it overrides a method by the method's name.
    get_multi.__name__ = get_multi.__qualname__ = f"get_multi_{key}"
    return get_multi


# Alembic pre-caches reflection through these (looked up by name), one per kind of information.
for _key in (
    "columns",
    "pk_constraint",
    "foreign_keys",
    "indexes",
    "unique_constraints",
    "check_constraints",
    "table_comment",
    "table_options",
):
    setattr(StateInspector, f"get_multi_{_key}", _multi(_key))


def _reflected_type(type_: Any, dialect: Dialect) -> Any:
    """``type_`` as the database reports it: an enum that is not native there (SQLite) is a
    VARCHAR as long as its longest value, so its values are not compared, as on a database."""
    if isinstance(type_, Enum) and not (dialect.supports_native_enum and type_.native_enum):
        return String(type_.length)
    return type_


def _default_text(column: Column[Any], dialect: Dialect) -> str | None:
    default = column.server_default
    if default is None or not isinstance(default, DefaultClause):
        return None
    arg = default.arg
    if isinstance(arg, str):
        return arg
    return str(arg.compile(dialect=dialect))


# The schema a new connection starts in; MySQL/MariaDB: the URL's database.
_DEFAULT_SCHEMAS = {"postgresql": "public", "sqlite": "main"}


def compare(
    state: SchemaState,
    metadata: MetaData | tuple[MetaData, ...],
    *,
    url: str,
    include_object: Callable[..., bool] | None,
    version_table: str,
    skip: frozenset[str] = frozenset(),
) -> ops.UpgradeOps:
    """What autogenerate would write, comparing ``metadata`` with ``state``, not a database.

    ``skip`` names tables known to match: they are left out on both sides.
    """
    opts: dict[str, Any] = {
        "target_metadata": metadata,
        **SERVER_DEFAULTS,  # issue 16: core/compare_plugin.py
        "compare_type": enum_values_changed,
        "include_object": include_object,
        "version_table": version_table,
    }
    if skip:

        def include_name(name: str | None, type_: str, _parents: Any) -> bool:
            return not (type_ == "table" and name in skip)

        def include_unskipped(
            obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
        ) -> bool:
            if type_ == "table" and name in skip:
                return False
            return include_object is None or include_object(obj, name, type_, reflected, compare_to)

        opts.update(include_name=include_name, include_object=include_unskipped)
    opts.update(schema_options(metadata, opts.get("include_name")))  # issue 16
    context = MigrationContext.configure(url=make_url(url), opts=opts)
    # What a connection would set: tables in it are reported without a schema.
    context.dialect.default_schema_name = _DEFAULT_SCHEMAS.get(
        context.dialect.name, make_url(url).database
    )
    autogen = AutogenContext(context, metadata=metadata)
    inspector = StateInspector(state, context.dialect)
    autogen.connection = inspector  # type: ignore[assignment]
    autogen.__dict__["inspector"] = inspector  # Alembic's memoized property
    script = ops.MigrationScript(
        rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([])
    )
    alembic_compare._populate_migration_script(autogen, script)
    return script.upgrade_ops_list[-1]
