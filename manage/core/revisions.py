"""Revision ids (``NNNN_name``), names derived from operations, and operation descriptions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from alembic.operations import ops

from manage.core.safety import describe_enum_change, destructive, enum_values
from manage.errors import also_fix_down_revisions

MAX_REVISION_ID_LENGTH = 32
"""Alembic's version table stores ids in VARCHAR(32); longer ids break plain Alembic databases."""

RESERVED_IDS = frozenset({"", "head", "heads", "base", "zero", "current"})
"""Words Alembic (and ``manage migrate``) read as a position in the history, not as an id."""

NUMBER_WIDTH = 4
MAX_NAME_LENGTH = MAX_REVISION_ID_LENGTH - NUMBER_WIDTH - 1
_NUMBERED = re.compile(r"^(\d{4,})_")


@dataclass(frozen=True, slots=True)
class Operation:
    """One schema change, as shown to the user: ``+ Create table author``."""

    symbol: str  # "+" adds, "-" removes, "~" alters
    description: str
    verb: str  # the name parts: "add", "book", "isbn" -> add_book_isbn
    subject: str
    detail: str | None = None
    on_table: str | None = None
    """For an index or constraint: its table. It is left out of the name when the same
    migration creates that table or adds columns to it, as Django names a field, not its index."""
    warning: str | None = None
    """Set when the operation loses data or breaks writes: ``Drop column book.isbn (...)``."""

    def __str__(self) -> str:
        return f"{self.symbol} {self.description}"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a migration name (``-n``), or None when it can."""
    if not name.isidentifier() or not name.isascii():
        return f"{name!r} is not a valid migration name: use letters, digits and underscores."
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"{name!r} is {len(name)} characters long; migration names may have at most "
            f"{MAX_NAME_LENGTH} so that the revision id fits Alembic's VARCHAR(32) version column."
        )
    return None


def reserved_id_problem(rev_id: object, where: str, stem: str) -> str | None:
    """Why ``rev_id`` (the ``revision`` of migration file ``where``, named ``stem``) cannot be
    a revision id because Alembic reads it as a keyword; None when it can."""
    if not isinstance(rev_id, str) or rev_id.strip() not in RESERVED_IDS:
        return None
    return also_fix_down_revisions(
        f"Migration {where} has revision = {rev_id!r}, which Alembic reads as a keyword "
        "(head, heads, base, zero, current, or empty), not as a migration. Use the file's name "
        f"without .py, {stem!r}"
    )


def too_long_id_problem(rev_id: str, where: str, version_table: str) -> str | None:
    """Why ``rev_id`` does not fit the version table's ``version_num`` column; None if it does."""
    if len(rev_id) <= MAX_REVISION_ID_LENGTH:
        return None
    return (
        f"Migration {where} has revision = {rev_id!r} ({len(rev_id)} characters), longer than "
        f"the {MAX_REVISION_ID_LENGTH} that the version table {version_table} holds: "
        "PostgreSQL and MariaDB refuse to record it. Shorten it (and fix any down_revision "
        "that points at it)."
    )


def next_number(revision_ids: Iterable[str]) -> int:
    """The next migration number: one past the highest ``NNNN_`` id.

    A history without numbered ids (plain Alembic hex ids) continues after its length, so the
    first ``manage`` migration after three Alembic ones is ``0004_...``.
    """
    ids = list(revision_ids)
    numbers = [int(m.group(1)) for m in map(_NUMBERED.match, ids) if m]
    return (max(numbers) if numbers else len(ids)) + 1


def revision_id(number: int, name: str) -> str:
    return f"{number:0{NUMBER_WIDTH}d}_{name}"


def auto_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"auto_{now:%Y%m%d_%H%M}"


def suggest_name(operations: list[Operation], *, initial: bool) -> str:
    """Django's naming: ``initial``, ``add_book_isbn``, or ``auto_<UTC timestamp>`` when too long.

    Operations of one verb on one table share a prefix (``add_book_isbn_price``), creations and
    removals of tables share the verb (``create_author_book``).
    """
    if initial:
        return "initial"
    tables = {
        op.subject for op in operations if op.on_table is None and op.verb in ("add", "create")
    }
    groups: dict[tuple[str, ...], list[str]] = {}
    for op in operations:
        if op.on_table in tables:
            continue
        if op.detail is None:
            groups.setdefault((op.verb,), []).append(op.subject)
        else:
            groups.setdefault((op.verb, op.subject), []).append(op.detail)
    parts = [_slug(*key, *dict.fromkeys(items)) for key, items in groups.items()]
    name = "_".join(parts)
    if not name or len(name) > MAX_NAME_LENGTH:
        return auto_name()
    return name


def merge_name(heads: Iterable[str]) -> str:
    """``merge_<a>_<b>``: the heads' ids, without their numbers or shortened when too long
    for the 32-character revision id."""
    heads = list(heads)
    for parts in (heads, [_NUMBERED.sub("", h) for h in heads]):
        name = _slug("merge", *parts)
        if len(name) <= MAX_NAME_LENGTH:
            return name
    room = (MAX_NAME_LENGTH - len("merge") - len(heads)) // max(len(heads), 1)
    return _slug("merge", *(_NUMBERED.sub("", h)[:room] for h in heads))


def describe(upgrade_ops: ops.OpContainer) -> list[Operation]:
    """Flatten Alembic's operation tree into one Operation per change."""
    return [
        dataclasses.replace(_describe(op), warning=destructive(op))
        for op in _flatten(upgrade_ops.ops)
    ]


def _flatten(items: Iterable[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for item in items:
        if isinstance(item, ops.OpContainer):
            yield from _flatten(item.ops)
        elif hasattr(item, "alter_columns"):  # environment.EnumValuesOp: one line per column
            yield from item.alter_columns()
        else:
            yield item


def _slug(*parts: str | None) -> str:
    text = "_".join(p for p in parts if p)
    return re.sub(r"\W+", "_", text.lower()).strip("_")


def _describe(op: ops.MigrateOperation) -> Operation:
    if isinstance(op, ops.CreateTableOp):
        return Operation("+", f"Create table {op.table_name}", "create", op.table_name)
    if isinstance(op, ops.DropTableOp):
        return Operation("-", f"Drop table {op.table_name}", "delete", op.table_name)
    if isinstance(op, ops.AddColumnOp):
        return Operation(
            "+",
            f"Add column {op.column.name} to {op.table_name}",
            "add",
            op.table_name,
            op.column.name,
        )
    if isinstance(op, ops.DropColumnOp):
        return Operation(
            "-",
            f"Remove column {op.column_name} from {op.table_name}",
            "remove",
            op.table_name,
            op.column_name,
        )
    if isinstance(op, ops.AlterColumnOp) and op.modify_name is not None:
        return Operation(
            "~",
            f"Rename column {op.table_name}.{op.column_name} to {op.modify_name}",
            "rename",
            op.table_name,
            op.column_name,
        )
    from manage.core import questions  # only generated migrations hold its operations

    if isinstance(op, questions.EnforceNotNullOp):
        return Operation(
            "~",
            f"Alter column {op.column_name} on {op.table_name} (now NOT NULL)",
            "alter",
            op.table_name,
            op.column_name,
            on_table=op.table_name,
        )
    if isinstance(op, questions.FillColumnOp):
        return Operation(
            "~",
            f"Set {op.column_name} to {op.value} on the rows already in {op.table_name}",
            "fill",
            op.table_name,
            op.column_name,
            on_table=op.table_name,
        )
    if isinstance(op, ops.RenameTableOp):
        return Operation(
            "~",
            f"Rename table {op.table_name} to {op.new_table_name}",
            "rename",
            op.table_name,
            op.new_table_name,
        )
    if isinstance(op, ops.AlterColumnOp):
        return Operation(
            "~",
            f"Alter column {op.column_name} on {op.table_name}{_alter_details(op)}",
            "alter",
            op.table_name,
            op.column_name,
        )
    if isinstance(op, ops.CreateIndexOp):
        unique = "unique index" if op.kw.get("unique") else "index"
        return Operation(
            "+",
            f"Create {unique} {op.index_name} on {op.table_name}",
            "add",
            op.index_name or "",
            on_table=op.table_name,
        )
    if isinstance(op, ops.DropIndexOp):
        return Operation(
            "-",
            f"Drop index {op.index_name} on {op.table_name}",
            "remove",
            op.index_name or "",
            on_table=op.table_name,
        )
    if isinstance(op, ops.AddConstraintOp):
        kind = _constraint_kind(op)
        name = getattr(op, "constraint_name", None)
        label = f" {name}" if name else ""
        return Operation(
            "+",
            f"Create {kind}{label} on {_table(op)}",
            "add",
            name or f"{_table(op)}_{kind.replace(' ', '_')}",
            on_table=_table(op),
        )
    if isinstance(op, ops.DropConstraintOp):
        kind = {
            "foreignkey": "foreign key",
            "unique": "unique constraint",
            "check": "check constraint",
            "primary": "primary key",
        }.get(op.constraint_type or "", "constraint")
        return Operation(
            "-",
            f"Drop {kind} {op.constraint_name} on {op.table_name}",
            "remove",
            str(op.constraint_name or op.table_name),
            on_table=op.table_name,
        )
    from manage.core.runnable import CreateSchemaOp, SequenceOp

    if isinstance(op, CreateSchemaOp):
        return Operation("+", f"Create schema {op.schema}", "add", op.schema, on_table=op.schema)

    if isinstance(op, SequenceOp):
        create = op.action == "create"
        return Operation(
            "+" if create else "-",
            f"{'Create' if create else 'Drop'} sequence {op.sequence.name}",
            "add" if create else "remove",
            str(op.sequence.name),
            on_table=op.table_name,
        )
    if isinstance(op, ops.CreateTableCommentOp | ops.DropTableCommentOp):
        return Operation("~", f"Alter comment on table {op.table_name}", "comment", op.table_name)
    name = type(op).__name__.removesuffix("Op")
    return Operation("~", name, _slug(name), "")


def _alter_details(op: ops.AlterColumnOp) -> str:
    changes = []
    if op.modify_type is not None and enum_values(op.existing_type) is not None:
        changes.append(describe_enum_change(op.existing_type, op.modify_type))
    elif op.modify_type is not None:
        changes.append(f"type {op.existing_type} -> {op.modify_type}")
    if op.modify_nullable is not None:
        changes.append("now nullable" if op.modify_nullable else "now NOT NULL")
    if op.modify_server_default is not False:
        changes.append("server default")
    if op.modify_comment is not False:
        changes.append("comment")
    if op.modify_name is not None:
        changes.append(f"renamed to {op.modify_name}")
    # ``enum values: add 'a', 'b'; remove 'c'`` lists values with commas: "; " sets the other
    # changes apart from them.
    separator = "; " if changes and changes[0].startswith("enum values:") else ", "
    return f" ({separator.join(changes)})" if changes else ""


def _constraint_kind(op: ops.AddConstraintOp) -> str:
    return {
        ops.CreateUniqueConstraintOp: "unique constraint",
        ops.CreateForeignKeyOp: "foreign key",
        ops.CreateCheckConstraintOp: "check constraint",
        ops.CreatePrimaryKeyOp: "primary key",
    }.get(type(op), "constraint")


def _table(op: ops.AddConstraintOp) -> str:
    return str(getattr(op, "table_name", None) or getattr(op, "source_table", ""))
