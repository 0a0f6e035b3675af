"""PostgreSQL's named enum types: create, drop and change their values in generated migrations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import Enum, MetaData, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from manage.compat import render_server_default
from manage.core.runnable import leaf_operations


class EnumTypeOp(ops.MigrateOperation):
    """Create or drop a named enum type: PostgreSQL keeps enums as separate types, and Alembic's
    ``add_column`` does not create one, nor ``drop_table``/``drop_column`` drop it."""

    def __init__(self, action: Literal["create", "drop"], enum: Enum) -> None:
        self.action = action
        self.enum = enum


@renderers.dispatch_for(EnumTypeOp)
def _render_enum_type(_context: AutogenContext, op: EnumTypeOp) -> str:
    # A no-op where enums are not separate types (SQLite, MySQL), so the file stays portable and
    # plain Alembic can run it; offline (--sql) it renders CREATE/DROP TYPE.
    values = "".join(f"{value!r}, " for value in op.enum.enums) if op.action == "create" else ""
    schema = f", schema={op.enum.schema!r}" if op.enum.schema else ""
    enum = f"sa.Enum({values}name={op.enum.name!r}{schema})"
    return f"{enum}.{op.action}(op.get_bind(), checkfirst=True)"


def _named_enum(type_: Any) -> Enum | None:
    """The named native enum ``type_`` is, or wraps (a project's TypeDecorator)."""
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, Enum) and type_.name and type_.native_enum:
        return type_
    return None


def _enum_types(
    script: ops.MigrationScript,
    metadata: MetaData | tuple[MetaData, ...],
    connection: Connection,
) -> None:
    """Give each upgrade and downgrade the enum CREATE/DROP TYPE that Alembic leaves out.

    Before the changes: create every enum a new table or column uses (``checkfirst``, so an
    existing type is reused). After them: drop the enums of dropped tables and columns that
    nothing uses any more, judged on the schema the changes lead to: the models for an upgrade,
    the replayed history for a downgrade.
    """
    tables = [t for meta in (metadata if isinstance(metadata, tuple) else (metadata,))
              for t in meta.tables.values()]  # fmt: skip
    shadow: dict[str, dict[str, Any]] = {}

    def reflected() -> dict[str, dict[str, Any]]:
        if not shadow:
            inspector = inspect(connection)
            for name in inspector.get_table_names():
                shadow[name] = {c["name"]: c["type"] for c in inspector.get_columns(name)}
        return shadow

    def used_after_upgrade(dropped_tables: set[str]) -> set[str]:
        used = {e.name for t in tables for c in t.columns if (e := _named_enum(c.type))}
        owned = {t.name for t in tables} | dropped_tables
        used |= {
            e.name
            for name, columns in reflected().items()
            if name not in owned
            for type_ in columns.values()
            if (e := _named_enum(type_))
        }
        return {str(name) for name in used}

    def used_after_downgrade(_dropped_tables: set[str]) -> set[str]:
        state = reflected()
        used = {
            str(e.name) for cols in state.values() for t in cols.values() if (e := _named_enum(t))
        }
        # Dialects that reflect enums without their names (SQLite, MySQL): a model column that
        # exists in the replayed schema still uses its enum there.
        used |= {
            str(e.name)
            for t in tables
            if t.name in state
            for c in t.columns
            if c.name in state[t.name] and (e := _named_enum(c.type))
        }
        return used

    for containers, used_after in (
        (script.upgrade_ops_list, used_after_upgrade),
        (script.downgrade_ops_list, used_after_downgrade),
    ):
        for container in containers:
            _add_enum_types(container, used_after)


def _add_enum_types(container: ops.OpContainer, used_after: Callable[[set[str]], set[str]]) -> None:
    used: dict[str, Enum] = {}
    dropped: dict[str, Enum] = {}
    dropped_tables: set[str] = set()
    for op in leaf_operations(container.ops):
        if isinstance(op, ops.CreateTableOp):
            for column in op.columns:
                if e := _named_enum(getattr(column, "type", None)):
                    used.setdefault(str(e.name), e)
        elif isinstance(op, ops.AddColumnOp) and (e := _named_enum(op.column.type)):
            used.setdefault(str(e.name), e)
        elif isinstance(op, ops.DropTableOp):
            dropped_tables.add(op.table_name)
            for column in op.to_table().columns:
                if e := _named_enum(column.type):
                    dropped.setdefault(str(e.name), e)
        elif isinstance(op, ops.DropColumnOp) and (e := _named_enum(op.to_column().type)):
            dropped.setdefault(str(e.name), e)
    creates = [EnumTypeOp("create", e) for e in used.values()]
    drops: list[ops.MigrateOperation] = []
    if dropped:
        still_used = used_after(dropped_tables)
        drops = [EnumTypeOp("drop", e) for name, e in dropped.items() if name not in still_used]
    if creates or drops:
        container.ops = [*creates, *container.ops, *drops]


def render_enum_without_create(
    type_: str, obj: Any, _context: AutogenContext
) -> str | Literal[False]:  # also: imports for the project's own types
    """Alembic's ``render_item``: named enums are created by their own idempotent statement
    (``EnumTypeOp``), so tables render them with ``create_type=False`` and never CREATE TYPE
    twice, e.g. when a downgrade re-creates a table whose type another table still uses."""
    # A project's TypeDecorator around an enum is written as the enum itself: the migration
    # keeps the values it had, which the project's type changes later.
    enum = _named_enum(obj) if type_ == "type" else None
    module = type(obj).__module__ if type_ == "type" else "sqlalchemy"
    if enum is None and module.split(".")[0] not in ("sqlalchemy", "builtins"):
        # Alembic renders a project's own type (a TypeDecorator) as module.Name(...) but
        # imports nothing: add the import, so the migration runs without a hand edit.
        _context.imports.add(f"import {module}")
    if enum is None:
        return False
    values = "".join(f"{value!r}, " for value in enum.enums)
    schema = f", schema={enum.schema!r}" if enum.schema else ""
    return f"sa.Enum({values}name={enum.name!r}{schema}, create_type=False)"


_UNCHANGED: Any = False
"""Alembic's ``modify_server_default`` when the default does not change (None removes it)."""


class EnumValuesOp(ops.MigrateOperation):
    """Change the values of PostgreSQL's named enum type ``enum.name`` (from ``old`` to
    ``enum.enums``) for ``columns`` ((table, column, schema)), which use it.

    Values only added (in place): ``ALTER TYPE ... ADD VALUE``, which keeps every row and takes
    no table lock, in an autocommit block so that the rest of the migration may use the new
    values. Otherwise (values removed or moved): the type is recreated and the columns cast to
    it, which fails, changing nothing, while a row holds a removed value; the old type is
    dropped by :class:`DropOldEnumOp`, after the migration's other changes.
    """

    def __init__(
        self, enum: Enum, old: Sequence[str], columns: Sequence[tuple[str, str, str | None]]
    ) -> None:
        self.enum = enum
        self.old = tuple(old)
        self.columns = tuple(columns)
        self.defaults: dict[tuple[str, str, str | None], Any] = {}
        """Server defaults the columns have (a type change cannot cast them)."""
        self.new_defaults: dict[tuple[str, str, str | None], Any] = {}
        """Server defaults the same migration gives the columns (None: removed)."""
        self.nullable: dict[tuple[str, str, str | None], bool | None] = {}

    @property
    def new(self) -> tuple[str, ...]:
        return tuple(self.enum.enums)

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(v for v in self.new if v not in self.old)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(v for v in self.old if v not in self.new)

    @property
    def only_added(self) -> bool:
        """The old values keep their order, with new ones among them."""
        return [v for v in self.new if v in self.old] == list(self.old)

    def alter_columns(self) -> list[ops.AlterColumnOp]:
        """The change as Alembic's ``alter_column`` of each column, to describe it."""
        old = Enum(*self.old, name=self.enum.name, schema=self.enum.schema)
        return [
            ops.AlterColumnOp(
                t,
                c,
                schema=s,
                existing_type=old,
                modify_type=self.enum,
                modify_server_default=self.new_defaults.get((t, c, s), _UNCHANGED),
                existing_server_default=self.defaults.get((t, c, s)),
                existing_nullable=self.nullable.get((t, c, s)),
            )
            for t, c, s in self.columns
        ]


class DropOldEnumOp(ops.MigrateOperation):
    """Drop the type an :class:`EnumValuesOp` renamed away, once nothing in the migration uses
    it any more (a column of it dropped in the same migration goes first)."""

    def __init__(self, enum: Enum) -> None:
        self.enum = enum

    def alter_columns(self) -> list[ops.AlterColumnOp]:
        """Nothing to describe: the :class:`EnumValuesOp` says it all."""
        return []


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def enum_add_value_sql(type_name: str, value: str, new: Sequence[str]) -> str:
    """``ALTER TYPE ... ADD VALUE``, placed where ``value`` stands in ``new``
    (core/replay/enum_sql.py reads this form back)."""
    at = list(new).index(value)
    where = f" AFTER {_sql_literal(new[at - 1])}" if at else f" BEFORE {_sql_literal(new[at + 1])}"
    return f"ALTER TYPE {type_name} ADD VALUE IF NOT EXISTS {_sql_literal(value)}{where}"


def _type_name(autogen: AutogenContext, enum: Enum, suffix: str = "") -> str:
    quote = autogen.dialect.identifier_preparer.quote if autogen.dialect else str
    schema = f"{quote(enum.schema)}." if enum.schema else ""
    return f"{schema}{quote(str(enum.name) + suffix)}"


def _render_default(default: Any, autogen: AutogenContext) -> str:
    """A server default as Alembic renders it in an ``alter_column``."""
    return render_server_default(default, autogen)


@renderers.dispatch_for(EnumValuesOp)
def _render_enum_values(autogen: AutogenContext, op: EnumValuesOp) -> list[str]:
    name = _type_name(autogen, op.enum)
    quote = autogen.dialect.identifier_preparer.quote if autogen.dialect else str
    lines: list[str] = []
    if op.only_added and op.old:
        # PostgreSQL refuses a value added in the same transaction to be used (a default, a
        # row): ADD VALUE commits at once; IF NOT EXISTS makes a rerun after a failure harmless.
        lines.append("with op.get_context().autocommit_block():")
        present = set(op.old)
        for value in op.added:  # each goes in where it stands, after those before it are in
            present.add(value)
            sql = enum_add_value_sql(name, value, [v for v in op.new if v in present])
            lines.append(f"op.execute({sql!r})")
        lines.append("")  # ends the block
    else:
        renamed = quote(f"{op.enum.name}_old")  # RENAME TO takes no schema
        values = ", ".join(_sql_literal(v) for v in op.new)
        lines += [
            f"op.execute({f'ALTER TYPE {name} RENAME TO {renamed}'!r})",
            f"op.execute({f'CREATE TYPE {name} AS ENUM ({values})'!r})",
        ]
    enum = render_enum_without_create("type", op.enum, autogen)
    # The values the column had, under the name the old type has now (for migrate --plan).
    was = Enum(*op.old, name=f"{op.enum.name}_old", schema=op.enum.schema)
    existing = render_enum_without_create("type", was, autogen)
    for key in op.columns:
        table, column, table_schema = key
        where = f", schema={table_schema!r}" if table_schema else ""
        default = op.defaults.get(key)
        final = op.new_defaults.get(key, default)
        nullable = op.nullable.get(key)
        # A default this migration removes: the NOT NULL flag lets migrate --plan say so.
        removed = key in op.new_defaults and final is None and nullable is not None
        drop = f"server_default=None{f', existing_nullable={nullable!r}' if removed else ''}"
        if not (op.only_added and op.old):
            if default is not None:  # PostgreSQL cannot cast it: dropped, then set again
                lines.append(f"op.alter_column({table!r}, {column!r}, {drop}{where})")
            using = f"{quote(column)}::text::{name}"
            lines.append(
                f"op.alter_column({table!r}, {column!r}, existing_type={existing}, "
                f"type_={enum}, postgresql_using={using!r}{where})"
            )
        elif key in op.new_defaults and final is None:
            lines.append(f"op.alter_column({table!r}, {column!r}, {drop}{where})")
        if final is not None and (key in op.new_defaults or not (op.only_added and op.old)):
            lines.append(
                f"op.alter_column({table!r}, {column!r}, "
                f"server_default={_render_default(final, autogen)}{where})"
            )
    return lines


@renderers.dispatch_for(DropOldEnumOp)
def _render_drop_old_enum(autogen: AutogenContext, op: DropOldEnumOp) -> str:
    sql = f"DROP TYPE {_type_name(autogen, op.enum, '_old')}"
    return f"op.execute({sql!r})"


def _enum_value_changes(container: ops.OpContainer, dialect_name: str) -> None:
    """On PostgreSQL, replace the type change of columns whose enum values changed (Alembic
    would write ``ALTER COLUMN ... TYPE`` to the type the column already has) by one
    :class:`EnumValuesOp` per type, before the other operations, which also sets the server
    default the same migration gives such a column (after the values it may use exist); a
    recreated type's old copy is dropped last (:class:`DropOldEnumOp`)."""
    if dialect_name != "postgresql":
        return
    changes: dict[tuple[str | None, str], EnumValuesOp] = {}

    def rewrite(items: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
        kept: list[ops.MigrateOperation] = []
        for item in items:
            if isinstance(item, ops.ModifyTableOps):
                item.ops = rewrite(item.ops)
                if item.ops:
                    kept.append(item)
                continue
            modify = getattr(item, "modify_type", None)
            enum = _named_enum(modify) if isinstance(item, ops.AlterColumnOp) else None
            existing = getattr(item, "existing_type", None)
            old = getattr(existing, "enums", None)
            same_type = enum is not None and getattr(existing, "name", None) == enum.name
            if not same_type or old is None or not isinstance(item, ops.AlterColumnOp):
                kept.append(item)  # e.g. a column moved to another enum type: Alembic's way
                continue
            assert enum is not None
            column = (item.table_name, item.column_name, item.schema)
            key = (enum.schema, str(enum.name))
            if key in changes:
                changes[key].columns += (column,)
            else:
                changes[key] = EnumValuesOp(enum, old, [column])
            change = changes[key]
            if item.existing_server_default not in (None, False):
                change.defaults[column] = item.existing_server_default
            if item.modify_server_default is not False:  # set (or removed) by this migration
                change.new_defaults[column] = item.modify_server_default
                item.modify_server_default = False
            change.nullable[column] = (
                item.modify_nullable if item.modify_nullable is not None else item.existing_nullable
            )
            item.modify_type = None  # anything else the alter_column changes stays
            if item.has_changes():
                kept.append(item)
        return kept

    rest = rewrite(container.ops)
    drops = [DropOldEnumOp(c.enum) for c in changes.values() if not (c.only_added and c.old)]
    container.ops = [*changes.values(), *rest, *drops]
