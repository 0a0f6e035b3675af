"""Generated operations that run both ways: every constraint named, drops in an order the
database accepts, casts PostgreSQL cannot make by itself written out (issue 16).

Alembic's autogenerate writes ``create_foreign_key(None, ...)`` for a constraint the models leave
unnamed and ``drop_constraint(None, ...)`` in the downgrade, which cannot run (and SQLite's batch
mode refuses both: "Constraint must have a name"). Django names every constraint; so does this:
each gets the name PostgreSQL would give it (``<table>_<columns>_key`` / ``_fkey``), on every
dialect, so the upgrade and the downgrade agree on it.

Called on each upgrade and downgrade container of a migration being written, after the
operations are ordered (``core/migrations/ordering.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    MetaData,
    Table,
    UniqueConstraint,
)
from sqlalchemy import Sequence as Sequence_
from sqlalchemy.types import TypeDecorator

from manage.compat import (
    creation_order,
    is_type_bound,
    render_alter_column,
    render_modify_table,
    reverse_of,
)

_LABELS = {"foreignkey": "fkey", "unique": "key"}
_UNNAMED = "_manage_unnamed"  # set on a drop_constraint this module named


def make_runnable(
    container: ops.OpContainer,
    dialect_name: str,
    metadata: MetaData | tuple[MetaData, ...] | None = None,
) -> None:
    """Rewrite ``container`` (an upgrade or downgrade) in place so that it runs; ``metadata``:
    the models, whose unnamed CHECK constraints SQLite's batch copies restate."""
    for item in leaf_operations(container.ops):
        _name_constraint(item)
    if dialect_name == "sqlite":
        checks = _unnamed_checks(metadata)
        container.ops = [_naming_batch(item, checks) for item in container.ops]
    if dialect_name == "postgresql":
        _replace(container, _cast_from_enum)
    _drops_in_order(container, dialect_name)
    if dialect_name in ("postgresql", "mysql", "mariadb"):
        _sequences(container)
    if dialect_name == "postgresql":
        _schemas_first(container)


def constraint_name(table: str, columns: Sequence[str], label: str) -> str:
    """The name PostgreSQL gives an unnamed constraint (``makeObjectName``: ``<table>_<columns>_
    <label>``, the longer part shortened so the whole fits 63 bytes)."""
    name1, name2 = table, "_".join(columns)
    available = 63 - (len(label) + 1) - 1
    keep1, keep2 = len(name1), len(name2)
    while keep1 + keep2 > available:
        if keep1 > keep2:
            keep1 -= 1
        else:
            keep2 -= 1
    return f"{name1[:keep1]}_{name2[:keep2]}_{label}"


def leaf_operations(items: Sequence[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    """The operations of ``items``, the contents of containers (batches, tables) in their place."""
    for item in items:
        if isinstance(item, ops.OpContainer):
            yield from leaf_operations(item.ops)
        else:
            yield item


def _name_constraint(item: ops.MigrateOperation) -> None:
    if isinstance(item, ops.CreateForeignKeyOp) and item.constraint_name is None:
        item.constraint_name = constraint_name(item.source_table, item.local_cols, "fkey")
    elif isinstance(item, ops.CreateUniqueConstraintOp) and item.constraint_name is None:
        item.constraint_name = constraint_name(item.table_name, item.columns, "key")
    elif isinstance(item, ops.DropConstraintOp) and item.constraint_name is None:
        label = _LABELS.get(item.constraint_type or "")
        if label is None or reverse_of(item) is None:
            return
        constraint: Any = reverse_of(item).to_constraint()
        if isinstance(constraint, ForeignKeyConstraint | UniqueConstraint):
            columns = [c.name for c in constraint.columns]
            item.constraint_name = constraint_name(item.table_name, columns, label)
            setattr(item, _UNNAMED, True)  # SQLite: the database may have no name for it


class NamingBatchOps(ops.ModifyTableOps):
    """A batch that drops a constraint SQLite keeps unnamed: the table is read with a naming
    convention giving such constraints the names the operations use (Alembic's recipe for
    dropping unnamed constraints in batch mode). ``checks``: the table's unnamed CHECK
    constraints, restated in ``table_args`` (Alembic's remedy): Alembic's copy of the table
    leaves out a reflected CHECK without a name ("Unnamed CHECK constraint on reflected table
    ... is being omitted from the table recreate"), and the database lost it."""

    naming = True
    checks: tuple[str, ...] = ()


_BATCH_NAMES = {
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
}


@renderers.dispatch_for(NamingBatchOps)
def _render_naming_batch(autogen: AutogenContext, op: NamingBatchOps) -> list[str]:
    lines = render_modify_table(autogen, op)
    extra = f", naming_convention={_BATCH_NAMES!r}" if op.naming else ""
    if op.checks:
        restated = ", ".join(f"sa.CheckConstraint({text!r})" for text in op.checks)
        extra += f", table_args=({restated},)"
    if lines and lines[0].endswith(") as batch_op:"):
        lines[0] = lines[0].replace(") as batch_op:", f"{extra}) as batch_op:")
    return lines


def _unnamed_checks(
    metadata: MetaData | tuple[MetaData, ...] | None,
) -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(schema, table) -> the SQL of the models' CHECK constraints without a name (not those
    of Enum and Boolean types, which the types re-create)."""
    found: dict[tuple[str | None, str], tuple[str, ...]] = {}
    for meta in metadata if isinstance(metadata, tuple) else (metadata,) if metadata else ():
        for table in meta.tables.values():
            texts = tuple(
                str(c.sqltext)
                for c in table.constraints
                if isinstance(c, CheckConstraint)
                and not isinstance(c.name, str)
                and not is_type_bound(c)
            )
            if texts:
                found[(table.schema, table.name)] = texts
    return found


def _naming_batch(
    item: ops.MigrateOperation, checks: dict[tuple[str | None, str], tuple[str, ...]]
) -> ops.MigrateOperation:
    if not isinstance(item, ops.ModifyTableOps) or isinstance(item, NamingBatchOps):
        return item
    naming = any(getattr(op, _UNNAMED, False) for op in item.ops)
    restated = checks.get((item.schema, str(item.table_name)), ())
    if not naming and not restated:
        return item
    batch = NamingBatchOps(item.table_name, item.ops, schema=item.schema)
    batch.naming, batch.checks = naming, restated
    return batch


def _replace(
    container: ops.OpContainer,
    change: Callable[[ops.MigrateOperation], ops.MigrateOperation],
) -> None:
    """Put ``change(op)`` in the place of each operation of ``container``, however deep."""
    for position, item in enumerate(container.ops):
        if isinstance(item, ops.OpContainer):
            _replace(item, change)
        else:
            container.ops[position] = change(item)


def _enum_of(type_: Any) -> Enum | None:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl
    return type_ if isinstance(type_, Enum) and type_.native_enum else None


class CastingAlterColumnOp(ops.AlterColumnOp):
    """An ``alter_column`` rendered with its ``postgresql_using`` cast, which Alembic's own
    renderer leaves out."""

    @classmethod
    def cast(cls, op: ops.AlterColumnOp, using: str) -> CastingAlterColumnOp:
        new = cls.__new__(cls)
        new.__dict__.update(op.__dict__)
        new.kw = {**op.kw, "postgresql_using": using}
        return new


@renderers.dispatch_for(CastingAlterColumnOp)
def _render_casting_alter_column(autogen: AutogenContext, op: CastingAlterColumnOp) -> str:
    text = render_alter_column(autogen, op)
    using = op.kw["postgresql_using"]
    return f"{text[:-1]},\n{' ' * 4}postgresql_using={using!r},\n)"


def _cast_from_enum(item: ops.MigrateOperation) -> ops.MigrateOperation:
    """PostgreSQL casts a text column to an enum type only when told: ``USING col::type``."""
    if not isinstance(item, ops.AlterColumnOp) or item.modify_type is None:
        return item
    if "postgresql_using" in item.kw or isinstance(item, CastingAlterColumnOp):
        return item
    new = _enum_of(item.modify_type)
    old = _enum_of(item.existing_type)
    if new is None or not new.name or old is not None:
        return item
    quoted = f'"{new.name}"' if new.name != new.name.lower() else new.name
    target = f"{new.schema}.{quoted}" if new.schema else quoted
    return CastingAlterColumnOp.cast(item, f"{item.column_name}::text::{target}")


class SequenceOp(ops.MigrateOperation):
    """Create or drop a ``Sequence`` a column takes its values from: Alembic's autogenerate
    never does, so inserts failed ("relation ticket_seq does not exist")."""

    def __init__(self, action: str, sequence: Sequence_, table: str) -> None:
        self.action = action
        self.sequence = sequence
        self.table_name = table

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (f"{'add' if self.action == 'create' else 'remove'}_sequence", self.sequence)

    def reverse(self) -> SequenceOp:
        action = "drop" if self.action == "create" else "create"
        return SequenceOp(action, self.sequence, self.table_name)


@renderers.dispatch_for(SequenceOp)
def _render_sequence(_autogen: AutogenContext, op: SequenceOp) -> str:
    sequence = op.sequence
    options = [repr(sequence.name)]
    for option in ("start", "increment", "minvalue", "maxvalue", "cycle", "schema"):
        value = getattr(sequence, option, None)
        if value is not None:
            options.append(f"{option}={value!r}")
    return f"sa.Sequence({', '.join(options)}).{op.action}(op.get_bind(), checkfirst=True)"


def _column_sequence(column: Any) -> Sequence_ | None:
    default = getattr(column, "default", None)
    return default if isinstance(default, Sequence_) else None


def _sequences(container: ops.OpContainer) -> None:
    """Create the sequences of new tables and columns first; drop those of dropped ones last."""
    # The schema comparator (core/compare_plugin.py) may already drop or create one.
    known = {
        (op.action, str(op.sequence.name)) for op in container.ops if isinstance(op, SequenceOp)
    }
    created: dict[str, SequenceOp] = {}
    dropped: dict[str, SequenceOp] = {}
    for item in leaf_operations(container.ops):
        columns: list[Any] = []
        target, action = created, "create"
        if isinstance(item, ops.CreateTableOp):
            columns = list(item.columns)
        elif isinstance(item, ops.AddColumnOp):
            columns = [item.column]
        elif isinstance(item, ops.DropTableOp) and reverse_of(item) is not None:
            columns, target, action = list(reverse_of(item).columns), dropped, "drop"
        elif isinstance(item, ops.DropColumnOp) and reverse_of(item) is not None:
            columns, target, action = [reverse_of(item).column], dropped, "drop"
        for column in columns:
            sequence = _column_sequence(column)
            if sequence is not None and (action, str(sequence.name)) not in known:
                table = str(getattr(item, "table_name", ""))
                target.setdefault(str(sequence.name), SequenceOp(action, sequence, table))
    container.ops[:0] = list(created.values())
    container.ops.extend(dropped.values())


class CreateSchemaOp(ops.MigrateOperation):
    """Create a schema new tables go in, unless it exists: ``op.create_table(..., schema=
    "other")`` failed with 'schema "other" does not exist'. A downgrade leaves it (it cannot
    know whether the schema was there before)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema


@renderers.dispatch_for(CreateSchemaOp)
def _render_create_schema(_autogen: AutogenContext, op: CreateSchemaOp) -> str:
    return f"op.execute(sa.schema.CreateSchema({op.schema!r}, if_not_exists=True))"


def _schemas_first(container: ops.OpContainer) -> None:
    schemas = {
        str(op.schema): None
        for op in container.ops
        if isinstance(op, ops.CreateTableOp) and op.schema and isinstance(container, ops.UpgradeOps)
    }
    container.ops[:0] = [CreateSchemaOp(schema) for schema in schemas]


def _drops_in_order(container: ops.OpContainer, dialect_name: str) -> None:
    """Indexes of a table the same container drops go with it, and on MySQL/MariaDB a foreign
    key is dropped before an index it needs ("Cannot drop index ...: needed in a foreign key
    constraint")."""
    dropped = {
        (op.table_name, op.schema) for op in container.ops if isinstance(op, ops.DropTableOp)
    }

    def kept(op: ops.MigrateOperation) -> bool:
        if isinstance(op, ops.ModifyTableOps) and (op.table_name, op.schema) in dropped:
            op.ops = [o for o in op.ops if not isinstance(o, ops.DropIndexOp)]
            return bool(op.ops)
        return not (isinstance(op, ops.DropIndexOp) and (op.table_name, op.schema) in dropped)

    container.ops = [op for op in container.ops if kept(op)]
    if dialect_name not in ("mysql", "mariadb"):
        return
    for item in container.ops:
        if isinstance(item, ops.ModifyTableOps):
            _foreign_keys_first(item)
    _foreign_keys_first(container)


def _foreign_keys_first(container: ops.OpContainer) -> None:
    index_drops = [i for i, op in enumerate(container.ops) if isinstance(op, ops.DropIndexOp)]
    fk_drops = [
        op
        for op in container.ops
        if isinstance(op, ops.DropConstraintOp) and op.constraint_type == "foreignkey"
    ]
    if not index_drops or not fk_drops:
        return
    first = index_drops[0]
    later = [op for op in container.ops[first:] if any(op is fk for fk in fk_drops)]
    rest = [op for op in container.ops[first:] if not any(op is fk for fk in later)]
    container.ops = [*container.ops[:first], *later, *rest]


def unnamed_constraint(table: Table, name: str | None) -> str | None:
    """For the in-memory replay: give the unnamed foreign key or unique constraint of
    ``table`` that a database calls ``name`` a name, and return it; None when there is none.

    PostgreSQL calls them ``<table>_<columns>_fkey`` / ``_key``; MySQL/MariaDB
    ``<table>_ibfk_<n>`` (n counting the unnamed foreign keys in the order they were made) and
    a unique constraint by its first column (``email``, ``email_2``...)."""
    if name is None:
        return None
    keys = sorted(
        (c for c in table.foreign_key_constraints if c.name is None),
        key=creation_order,
    )
    for number, key in enumerate(keys, start=1):
        columns = [c.name for c in key.columns]
        if name in (constraint_name(table.name, columns, "fkey"), f"{table.name}_ibfk_{number}"):
            key.name = name
            return name
    for unique in table.constraints:
        if isinstance(unique, UniqueConstraint) and unique.name is None:
            columns = [c.name for c in unique.columns]
            first = columns[0] if columns else ""
            mysql = re.fullmatch(rf"{re.escape(first)}(_\d+)?", name)
            if name == constraint_name(table.name, columns, "key") or mysql:
                unique.name = name
                return name
    return None
