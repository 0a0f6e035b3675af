"""The schema the migration history builds, in memory: tables changed operation by operation."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from alembic.operations import ops
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    TextClause,
    UnaryExpression,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.schema import DefaultClause, conv
from sqlalchemy.sql.ddl import CreateSchema, DropSchema
from sqlalchemy.types import TypeDecorator

from manage.compat import detached_check, is_type_bound, repair_unpickled_type_decorator
from manage.core.compare_plugin import simple_key_parts
from manage.core.replay.enum_sql import _enum_type_ddl
from manage.core.replay.recorder import SEQUENCES, _data_only, _describe, _NotModelled
from manage.core.replay.safe_sql import own_safe_sql, safe_ddl, schema_only_safe_sql
from manage.core.replay.sqlite_batch import batch_order, sqlite_copies
from manage.core.runnable import unnamed_constraint
from manage.errors import UnreplayableError, needs_a_database

MAY_HOLD_ROWS = "manage_may_hold_rows"
SCHEMAS = "manage_schemas"
ROWS_FROM = "manage_rows_from"
BOUND_DDL = "manage_bound_ddl"
_BOUND_DDL = re.compile(
    r"""^\s*(?P<verb>CREATE|DROP)\s+(?P<kind>TYPE|SEQUENCE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"""
    r"""(?:(?P<schema>[`"]?\w+[`"]?)\.)?(?P<name>[`"]?\w+[`"]?)""",
    re.IGNORECASE,
)


def follow_bound_ddl(state: SchemaState, statement: str) -> None:
    """Keep a ``CREATE SEQUENCE``/``CREATE TYPE`` sent through ``op.get_bind()`` in
    ``state.bound_ddl`` (a later ``DROP`` of it takes it out)."""
    found = _BOUND_DDL.match(statement)
    if found is None:
        return
    schema = found["schema"].strip('`"') if found["schema"] else None
    key = (found["kind"].upper(), schema, found["name"].strip('`"').lower())
    if found["verb"].upper() == "CREATE":
        state.bound_ddl[key] = statement
    else:
        state.bound_ddl.pop(key, None)


class SchemaState:
    """Tables as a sequence of migrations leaves them, as SQLAlchemy Table objects.

    ``convention``: the models' naming convention, which names the constraints and indexes the
    migrations leave unnamed, as Alembic's operations do with the models as ``target_metadata``.
    """

    def __init__(self, dialect_name: str = "", convention: dict[Any, Any] | None = None) -> None:
        self.metadata = (
            MetaData(naming_convention=convention) if convention is not None else MetaData()
        )
        self.dialect_name = dialect_name
        self.renamed_enums: dict[tuple[str | None, str | None], bool] = {}
        """Enum types a migration renamed to <name>_old: False, then True once created anew."""
        self.metadata.info[MAY_HOLD_ROWS] = False
        self.rows_written = False
        self.added_after: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
        """Per table, (the table's last column then, the column added) for each column the
        migration being replayed added: Alembic's batch copy of a SQLite table orders its
        columns by these pairs, which puts an added column elsewhere than at the end once the
        column it was added after is dropped."""
        """Whether the migration being replayed wrote rows through its data step's database
        (they are there for the rest of that migration, not for the next ones)."""

    @property
    def may_hold_rows(self) -> bool:
        """Whether a migration replayed so far may have written rows (``op.execute``,
        ``op.bulk_insert``, a write through ``op.get_bind()``): the replay holds none, so a later
        data step reading rows may take another branch than on a real database. Kept in the
        MetaData's ``info`` so the cached state remembers it; a state cached without it counts
        as holding rows."""
        return bool(self.metadata.info.get(MAY_HOLD_ROWS, True))

    @may_hold_rows.setter
    def may_hold_rows(self, value: bool) -> None:
        self.metadata.info[MAY_HOLD_ROWS] = value

    def tables(self) -> dict[str, Table]:
        return dict(self.metadata.tables)

    @property
    def sequences(self) -> set[tuple[str | None, str]]:
        """The sequences the migrations created, as (schema, lower-case name); kept in the
        MetaData's ``info`` so that the cached state remembers them."""
        found: set[tuple[str | None, str]] = self.metadata.info.setdefault(SEQUENCES, set())
        return found

    @property
    def schemas(self) -> dict[str, bool]:
        """The schemas the migrations created with ``CreateSchema`` (in ``info``, so a cached
        state remembers them), in order."""
        found: dict[str, bool] = self.metadata.info.setdefault(SCHEMAS, {})
        return found

    @property
    def bound_ddl(self) -> dict[tuple[str, str | None, str], str]:
        """The ``CREATE SEQUENCE`` and ``CREATE TYPE`` statements the migrations sent through
        ``op.get_bind()`` (``sa.Sequence(...).create(op.get_bind())``) and did not drop again,
        keyed by (kind, schema, lower-case name), in order: what a fast-forward runs again."""
        found: dict[tuple[str, str | None, str], str] = self.metadata.info.setdefault(BOUND_DDL, {})
        return found

    @property
    def rows_from(self) -> str | None:
        """The first migration that sent data statements (``op.execute`` of DML,
        ``op.bulk_insert``, writes through ``op.get_bind()``), which a schema built from this
        state would not repeat; kept in ``info`` (issue 15)."""
        found = self.metadata.info.get(ROWS_FROM)
        return found if isinstance(found, str) else None

    def wrote_rows(self, revision: str) -> None:
        self.metadata.info.setdefault(ROWS_FROM, revision)

    def apply(self, revision: str, operation: ops.MigrateOperation) -> None:
        """Change the state as the database would; unknown operations raise UnreplayableError."""
        handler = _HANDLERS.get(type(operation))
        if isinstance(operation, ops.ExecuteSQLOp) and schema_only_safe_sql(operation.sqltext):

            def handler(state: SchemaState, operation: Any) -> None:  # issue 14
                safe_ddl(state, revision, operation)

        if handler is None:
            if isinstance(operation, ops.ExecuteSQLOp) and own_safe_sql(operation.sqltext):
                # issue 14's fill of a volatile default (UPDATE ... SET c = DEFAULT WHERE c IS
                # NULL: no row where no migration wrote one) and MariaDB's alter_algorithm
                return
            if isinstance(operation, ops.ExecuteSQLOp) and _data_only(operation.sqltext):
                self.wrote_rows(revision)
                return
            if isinstance(operation, ops.ExecuteSQLOp) and _enum_type_ddl(self, operation):
                return
            if isinstance(operation, ops.BulkInsertOp):
                self.wrote_rows(revision)
                return
            if isinstance(operation, ops.ExecuteSQLOp) and isinstance(
                operation.sqltext, CreateSchema | DropSchema
            ):  # issue 16: a schema holds no table yet
                named = self.schemas  # issue 15: kept, to create them again
                if isinstance(operation.sqltext, CreateSchema):
                    named[str(operation.sqltext.element)] = True
                else:
                    named.pop(str(operation.sqltext.element), None)
                return
            raise UnreplayableError(
                needs_a_database(f"Migration {revision} runs {_describe(operation)}"),
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
        for constraint in list(table.constraints):
            if isinstance(constraint, PrimaryKeyConstraint) or is_type_bound(constraint):
                continue  # a Boolean's or Enum's CHECK: the copied column's type makes it again
            if keep(constraint):
                parts.append(_copy_constraint(constraint, renamed, targets, without))
        indexes: list[Index] = []  # on plain columns (maybe DESC): rebuilt on the new table below
        for index in table.indexes:
            if not keep(index):
                continue
            if simple_key_parts(index.expressions) is not None:
                indexes.append(index)
                continue
            elements: list[Any] = list(index.expressions)
            parts.append(  # a functional index keeps its expressions as they are
                Index(
                    index.name,
                    *[renamed.get(e.name, e.name) if not is_expression(e) else e for e in elements],
                    unique=bool(index.unique),
                    **index.kwargs,
                )
            )
        self.metadata.remove(table)
        new = Table(
            name or table.name,
            self.metadata,
            *new_columns,
            *parts,
            schema=table.schema,
            comment=table.comment,
        )
        for index in indexes:
            key = []
            for column_name, descending in simple_key_parts(index.expressions) or []:
                if column_name != without:
                    column = new.c[renamed.get(column_name, column_name)]
                    key.append(column.desc() if descending else column)
            Index(index.name, *key, unique=bool(index.unique), **index.kwargs)
        return new


def _plain_copy(column: Column[Any], name: str) -> Column[Any]:
    """The column alone: no foreign keys, unique or index flags (the table keeps those), with
    the CHECK constraints written on it (``sa.Column("price", sa.Integer(),
    sa.CheckConstraint("price > 0"))``), which the database keeps with the column."""
    return Column(
        name,
        column.type,
        *[
            detached_check(c.sqltext, c.name)
            for c in column.constraints
            if isinstance(c, CheckConstraint) and not is_type_bound(c)
        ],
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
        # Not attached to the table its expression's columns belong to (the old one: adding
        # to it while copying its constraints failed with "Set changed size during iteration").
        return detached_check(constraint.sqltext, constraint.name)
    raise ValueError(f"unsupported constraint {type(constraint).__name__}")


def _name(name: Any) -> str | None:
    return None if name is None else str(name)


def _given_name(name: Any) -> str | None:
    """A constraint's name as an operation gives it: one the migration marks final (``op.f``,
    a ``conv``) stays final, so the models' naming convention does not rename it (issue 14:
    the lock-light forms' VALIDATE names the constraint as created)."""
    return name if isinstance(name, conv) else _name(name)


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
    # Built as Alembic builds it with the models as target_metadata: their naming convention
    # names what the migration leaves unnamed.
    context = SimpleNamespace(opts={"target_metadata": state.metadata})
    table = op.to_table(context)  # type: ignore[arg-type]
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
    added = state.added_after.setdefault((table.schema, table.name), [])
    # As Alembic's batch: after the last of the columns the table had before the migration
    before = [c.name for c in table.columns if c.name not in {after for _, after in added}]
    if before:
        added.append((before[-1], column.name))
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
    name = op.column_name if isinstance(op.column_name, str) else op.column_name.name
    if name not in table.c:
        raise KeyError(f"column {op.table_name}.{name}")
    sqlite_copies(state, table)
    # The database drops the indexes and constraints that use the column with it; MySQL and
    # MariaDB only take the column out of a multi-column index or unique constraint.
    shrinks = state.dialect_name in ("mysql", "mariadb")

    def keep(item: Any) -> bool:
        if not _uses(item, name):
            return True
        several = len(item.columns) > 1
        return shrinks and several and isinstance(item, Index | UniqueConstraint)

    columns = [c for c in table.columns if c.name != name]
    if state.dialect_name == "sqlite":
        columns = batch_order(columns, state.added_after.get((table.schema, table.name), []))
    state.rebuild(table, columns=columns, keep=keep, without=name)


def _alter_column(state: SchemaState, op: ops.AlterColumnOp) -> None:
    table = state.table(op.table_name, op.schema)
    column = table.c[op.column_name]
    sqlite_copies(state, table)
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
    # Plain columns, each maybe DESC (``sa.literal_column("at DESC")``, as Alembic writes
    # ``Event.at.desc()``, or the models' ``sa.text("at DESC")``) are modelled as columns; an
    # index on a real expression keeps its SQL text, the form a database reflects it in.
    table = state.table(op.table_name, op.schema)
    # How it was built (issue 14's CONCURRENTLY) is no part of the schema: a fast-forward or
    # `manage schema` creates it plainly, in its transaction.
    kw = {key: value for key, value in op.kw.items() if key != "postgresql_concurrently"}
    parts = simple_key_parts(op.columns)
    if parts is not None:
        columns = [
            table.c[name].desc() if descending else table.c[name] for name, descending in parts
        ]
        Index(op.index_name, *columns, unique=bool(op.unique), **kw)
        return
    elements = [_index_element(table, c) for c in op.columns]
    index = Index(op.index_name, *elements, unique=bool(op.unique), **kw)
    if index.table is None:  # expressions only (``sa.text("lower(email)")``)
        table.append_constraint(index)


def _index_element(table: Table, element: Any) -> Any:
    """A column of ``table`` by name, or an expression (a functional index) as its SQL text,
    the form a database reflects it in."""
    if isinstance(element, str):
        return table.c[element]
    if isinstance(element, Column):
        return table.c[element.name]
    if isinstance(element, UnaryExpression):  # desc(), nulls_last(): reflected as sorting
        raise _NotModelled("an index with a sort order")
    if isinstance(element, TextClause):
        text = element.text
    elif getattr(element, "is_literal", False):  # sa.literal_column("at DESC"), as rendered
        text = str(element.name)
    else:
        text = str(element.compile(compile_kwargs={"literal_binds": True}))
    if _SORT_ORDER.search(text):
        raise _NotModelled("an index with a sort order")
    return literal_column(text)


_SORT_ORDER = re.compile(r"\b(ASC|DESC)\s*$|\bNULLS\s+(FIRST|LAST)\b", re.IGNORECASE)


def is_expression(element: Any) -> bool:
    """Whether an index element is an expression rather than a column."""
    return not isinstance(element, Column)


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
            name=_given_name(op.constraint_name),
            **{k: v for k, v in op.kw.items() if k in options},
        )
    elif isinstance(op, ops.CreateUniqueConstraintOp):
        table = state.table(op.table_name, op.schema)
        constraint = UniqueConstraint(*op.columns, name=_given_name(op.constraint_name))
    elif isinstance(op, ops.CreateCheckConstraintOp):
        table = state.table(op.table_name, op.schema)
        constraint = CheckConstraint(op.condition, name=_given_name(op.constraint_name))
    elif isinstance(op, ops.CreatePrimaryKeyOp):
        table = state.table(op.table_name, op.schema)
        for column in table.columns:
            column.primary_key = column.name in op.columns
        constraint = PrimaryKeyConstraint(*op.columns, name=_given_name(op.constraint_name))
    else:
        raise ValueError(f"unsupported constraint operation {type(op).__name__}")
    sqlite_copies(state, table)
    table.append_constraint(constraint)


def _drop_constraint(state: SchemaState, op: ops.DropConstraintOp) -> None:
    sqlite_copies(state, state.table(op.table_name, op.schema))
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


def pickled_metadata(metadata: MetaData) -> bytes:
    """``metadata`` pickled with its ``info`` (the sequences the migrations created, whether
    they wrote rows), which pickling a MetaData alone leaves out."""
    return pickle.dumps((metadata, dict(metadata.info)))


def unpickled_metadata(data: bytes) -> MetaData:
    """A pickled MetaData, its ``TypeDecorator`` columns usable again: unpickling one whose
    ``impl_instance`` was never read leaves the ``impl`` class there (SQLAlchemy 2.1), and
    compiling it failed with "_compiler_dispatch() missing ... 'visitor'" (SQLModel's
    ``AutoString`` in a migration, issue 16)."""
    loaded = pickle.loads(data)
    metadata: MetaData
    if isinstance(loaded, tuple):  # pickled_metadata's form: MetaData pickles no ``info``
        metadata, info = loaded
        metadata.info.update(info)
    else:  # an older cache: its ``info`` is lost (MAY_HOLD_ROWS then counts as set)
        metadata = loaded
    for table in metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, TypeDecorator):
                repair_unpickled_type_decorator(column.type)
    return metadata
