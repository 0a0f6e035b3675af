"""What changed between the schemas at two revisions, as the operations Alembic's comparison
finds, with the renames the history made between them kept as renames."""

from __future__ import annotations

from collections.abc import Iterable

from alembic.operations import ops

from manage.core.replay import SchemaState, compare
from manage.core.schema.replayed import Replayed
from manage.errors import UnreplayableError

Column = tuple[str | None, str, str]
"""(schema, table, column)."""


def changes(
    old: Replayed,
    new: Replayed,
    dialect: str,
    version_table: str,
    renames: list[ops.MigrateOperation],
) -> ops.UpgradeOps:
    """The operations that turn ``old.state`` into ``new.state``: ``renames`` first (what the
    history renamed between them, see :func:`net_renames`), then what Alembic's comparison of
    the renamed old schema with the new one finds. ``old.state`` is changed in place."""
    applied = []
    for operation in renames:
        try:
            old.state.apply("rename", operation)
        except UnreplayableError:  # e.g. two names swapped: shown as drop and add instead
            continue
        applied.append(operation)
    found = compare(
        old.state, new.state.metadata, url=f"{dialect}://", include_object=None,
        version_table=version_table,
    )  # fmt: skip
    return ops.UpgradeOps([*applied, *found.ops])


def net_renames(
    start: SchemaState, steps: Iterable[ops.MigrateOperation], backwards: bool = False
) -> list[ops.MigrateOperation]:
    """The table and column renames that ``steps`` (applied to ``start``, in order) make, from
    the first name to the last, as rename operations (tables first; ``backwards``: from the
    last name to the first). Tables and columns dropped on the way are not renamed."""
    tables: dict[tuple[str | None, str], tuple[str | None, str]] = {
        (t.schema, t.name): (t.schema, t.name) for t in start.metadata.tables.values()
    }
    columns: dict[Column, Column] = {
        (t.schema, t.name, c.name): (t.schema, t.name, c.name)
        for t in start.metadata.tables.values()
        for c in t.columns
    }

    for op in steps:
        if isinstance(op, ops.RenameTableOp):
            for first_table, table in list(tables.items()):
                if table == (op.schema, op.table_name):
                    tables[first_table] = (op.schema, op.new_table_name)
            for key, (schema, table_name, column) in list(columns.items()):
                if (schema, table_name) == (op.schema, op.table_name):
                    columns[key] = (schema, op.new_table_name, column)
        elif isinstance(op, ops.AlterColumnOp) and op.modify_name is not None:
            key = (op.schema, op.table_name, op.column_name)
            for first, current in list(columns.items()):
                if current == key:
                    columns[first] = (op.schema, op.table_name, op.modify_name)
        elif isinstance(op, ops.DropTableOp):
            tables = {k: v for k, v in tables.items() if v != (op.schema, op.table_name)}
            columns = {k: v for k, v in columns.items() if v[:2] != (op.schema, op.table_name)}
        elif isinstance(op, ops.DropColumnOp):
            for first, current in list(columns.items()):
                if current == (op.schema, op.table_name, op.column_name):
                    del columns[first]
    renames: list[ops.MigrateOperation] = []
    for first_table, last_table in tables.items():
        old, new = (last_table, first_table) if backwards else (first_table, last_table)
        if old != new:
            renames.append(ops.RenameTableOp(str(old[1]), str(new[1]), schema=old[0]))
    for first_column, last_column in columns.items():
        old_c, new_c = (last_column, first_column) if backwards else (first_column, last_column)
        if old_c[2] != new_c[2]:  # named by the table's name after the table renames
            renames.append(
                ops.AlterColumnOp(new_c[1], old_c[2], schema=new_c[0], modify_name=new_c[2])
            )
    return renames
