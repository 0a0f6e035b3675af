"""Which migrations created a table or column and which changed it since, found by replaying the
history migration by migration and following its renames back; and when each was written."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.operations import ops
from sqlalchemy import Column, Table

from manage.core.schema.replayed import Replayed, SchemaHistory
from manage.errors import SchemaLookupError

_CREATE_DATE = re.compile(r"^Create Date:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Touch:
    """The operations one migration issued on the table or column, in the order it issued them."""

    revision: str
    operations: tuple[ops.MigrateOperation, ...]
    created: bool
    """The migration created it (the first touch of the history, unless the bootstrap or a
    migration the replay could not follow made it)."""


def find(replayed: Replayed, target: str) -> tuple[Table, str | None]:
    """The table (and column name) ``target`` (``TABLE``, ``TABLE.COLUMN``, ``SCHEMA.TABLE``...)
    names in ``replayed.state``.

    Raises:
        SchemaLookupError: no such table or column there; the message lists the nearest.
    """
    tables = replayed.state.metadata.tables
    label = SchemaHistory.label(replayed.revision)
    if target in tables:
        return tables[target], None
    table_name, _, column = target.rpartition(".")
    if table_name in tables:
        table = tables[table_name]
        if column in table.c:
            return table, column
        near = difflib.get_close_matches(column, list(table.c.keys()), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise SchemaLookupError(
            f"Table {table_name!r} has no column {column!r} at {label}{hint}. Its columns: "
            f"{', '.join(table.c.keys())}. Run 'manage schema {label}' to see the schema."
        )
    wanted = table_name or target
    near = difflib.get_close_matches(wanted, list(tables), n=3)
    hint = (
        f" Did you mean {', '.join(near)}?"
        if near
        else " Give one of them, as TABLE or TABLE.COLUMN."
    )
    gone = _dropped_by(replayed, wanted)
    if gone is not None and gone[1] is not None:
        hint = f" Migration {gone[0]} renamed it to {gone[1]!r}: blame that name."
    elif gone is not None:
        hint = f" Migration {gone[0]} dropped it: give an earlier revision to blame it there."
    known = ", ".join(sorted(tables)) or "none"
    raise SchemaLookupError(
        f"Table {wanted!r} is not in the schema at {label} (its tables: {known}).{hint}"
    )


def _dropped_by(replayed: Replayed, name: str) -> tuple[str, str | None] | None:
    """The last migration that dropped table ``name`` or renamed it (and its new name)."""
    last: tuple[str, str | None] | None = None
    for revision, operations in replayed.steps.items():
        for op in operations:
            if isinstance(op, ops.DropTableOp) and op.table_name == name:
                last = (revision, None)
            elif isinstance(op, ops.RenameTableOp) and op.table_name == name:
                last = (revision, op.new_table_name)
    return last


def touches(replayed: Replayed, table: Table, column: str | None) -> list[Touch]:
    """The migrations that touched ``table`` (every operation on it: columns, indexes,
    constraints, comment, its name) or, with ``column``, that column (created it, changed its
    type, nullability, default, comment or name), oldest first. ``replayed`` must come from
    :meth:`SchemaHistory.watch`. Walking back from the last migration, renames are followed to
    the earlier names; the walk stops at the migration that created it."""
    name: tuple[str | None, str] = (table.schema, table.name)
    found: list[Touch] = []
    for script in reversed(replayed.scripts):
        mine: list[ops.MigrateOperation] = []
        created = stop = False
        for op in reversed(replayed.steps.get(script.revision, [])):
            if isinstance(op, ops.RenameTableOp) and (op.schema, op.new_table_name) == name:
                if column is None:
                    mine.append(op)
                name = (op.schema, op.table_name)
                continue
            if _table_of(op) != name:
                continue
            if isinstance(op, ops.DropTableOp):  # an earlier table of that name is another
                stop = True
                break
            if column is None:
                mine.append(op)
                created = stop = isinstance(op, ops.CreateTableOp)
            else:
                created = _creates(op, column)
                stop = created or (isinstance(op, ops.DropColumnOp) and op.column_name == column)
                if created or (isinstance(op, ops.AlterColumnOp) and column in _alters(op)):
                    mine.append(op)
                if isinstance(op, ops.AlterColumnOp) and op.modify_name == column:
                    column = op.column_name
            if stop:
                break
        if mine:
            found.append(Touch(script.revision, tuple(reversed(mine)), created))
        if stop:
            break
    found.reverse()
    return found


def _table_of(op: ops.MigrateOperation) -> tuple[str | None, str] | None:
    if isinstance(op, ops.CreateForeignKeyOp):
        return op.kw.get("source_schema"), op.source_table
    name = getattr(op, "table_name", None)
    return (getattr(op, "schema", None), name) if isinstance(name, str) else None


def _creates(op: ops.MigrateOperation, column: str) -> bool:
    if isinstance(op, ops.CreateTableOp):
        return any(isinstance(c, Column) and c.name == column for c in op.columns)
    return isinstance(op, ops.AddColumnOp) and op.column.name == column


def _alters(op: ops.AlterColumnOp) -> tuple[str, ...]:
    """The names the column an alteration changes goes by: before, and after a rename."""
    return (op.column_name, op.modify_name) if op.modify_name else (op.column_name,)


@dataclass(frozen=True, slots=True)
class FileDates:
    written: dt.datetime | None
    committed: dt.datetime | None


def file_dates(path: Path) -> FileDates:
    """When a migration file was written (the ``Create Date:`` line Alembic and manage put in
    its docstring; None in a hand-written file without it) and committed (the author date of
    the git commit that added it, following renames; None outside a git work tree, for a file
    not committed yet, or without git)."""
    written = None
    try:
        found = _CREATE_DATE.search(path.read_text(encoding="utf-8")[:4000])
        written = dt.datetime.fromisoformat(found[1]) if found else None
    except (OSError, ValueError):
        pass
    committed = None
    try:
        run = subprocess.run(
            ["git", "log", "--follow", "--diff-filter=A", "--format=%aI", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        lines = run.stdout.split()
        committed = dt.datetime.fromisoformat(lines[-1]) if run.returncode == 0 and lines else None
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return FileDates(written, committed)
