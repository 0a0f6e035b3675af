"""Which schema operations lose data or break writes: dropped tables and columns, narrowed
types, and NOT NULL columns losing their server default."""

from __future__ import annotations

from typing import Any

from alembic.operations import ops
from sqlalchemy import (
    BigInteger,
    Integer,
    Numeric,
    SmallInteger,
    String,
)


def destructive(op: ops.MigrateOperation) -> str | None:
    """A one-line warning when ``op`` loses data or breaks writes, else None."""
    if isinstance(op, ops.DropTableOp):
        return f"Drop table {op.table_name} (destructive: its rows are lost)"
    if isinstance(op, ops.DropColumnOp):
        return f"Drop column {op.table_name}.{op.column_name} (destructive: data in it is lost)"
    if not isinstance(op, ops.AlterColumnOp):
        return None
    where = f"{op.table_name}.{op.column_name}"
    old, new = op.existing_type, op.modify_type
    if enum_values(old) is not None and enum_values(new) is not None:
        _added, removed = enum_change(old, new)
        if removed:
            return (
                f"Remove {_quoted(removed)} from the values of column {where} "
                "(destructive: rows that hold them make the migration fail)"
            )
    elif old is not None and new is not None and narrower(old, new):
        return (
            f"Narrow column {where} from {_show(old)} to {_show(new)} "
            "(destructive: values that do not fit are cut or refused)"
        )
    # ``server_default=None`` removes the default. Alembic writes ``existing_server_default``
    # only when the default stays, so a migration file that removes one leaves it out (False):
    # only ``existing_server_default=None`` says there was none.
    removes_default = op.modify_server_default is None and op.existing_server_default is not None
    not_null = op.modify_nullable is False or (
        op.modify_nullable is None and op.existing_nullable is False
    )
    if removes_default and not_null:
        return (
            f"Remove the server default of NOT NULL column {where} "
            "(destructive: inserts that leave it out will fail)"
        )
    return None


def enum_values(type_: Any) -> list[str] | None:
    """The values of an enum type (a model's or a reflected one), else None."""
    values = getattr(type_, "enums", None)
    return None if values is None else [str(v) for v in values]


def enum_change(old: Any, new: Any) -> tuple[list[str], list[str]]:
    """The values enum type ``new`` adds to ``old``, and those it removes."""
    before, after = enum_values(old) or [], enum_values(new) or []
    return [v for v in after if v not in before], [v for v in before if v not in after]


def describe_enum_change(old: Any, new: Any) -> str:
    """``enum values: add 'review'; remove 'draft'`` (or ``reorder``)."""
    added, removed = enum_change(old, new)
    changes = [f"add {_quoted(added)}"] if added else []
    if removed:
        changes.append(f"remove {_quoted(removed)}")
    return "enum values: " + ("; ".join(changes) or "reorder")


def _quoted(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)


def narrower(old: Any, new: Any) -> bool:
    """Whether values of type ``old`` may not fit type ``new``."""
    if isinstance(old, String) and isinstance(new, String):
        if new.length is None:
            return False
        return old.length is None or new.length < old.length
    if isinstance(old, Integer) and isinstance(new, Integer):
        return _int_rank(new) < _int_rank(old)
    if isinstance(old, Numeric) and isinstance(new, Numeric):
        if isinstance(old, Integer) or isinstance(new, Integer):
            return False
        return _smaller(new.precision, old.precision) or _smaller(new.scale, old.scale)
    if isinstance(old, String) and isinstance(new, Integer | Numeric):
        return True
    return bool(isinstance(old, Numeric) and isinstance(new, Integer))


def _int_rank(type_: Integer) -> int:
    if isinstance(type_, BigInteger):
        return 3
    if isinstance(type_, SmallInteger):
        return 1
    return 2


def _smaller(new: int | None, old: int | None) -> bool:
    return new is not None and (old is None or new < old)


def _show(type_: Any) -> str:
    try:
        return str(type_.compile())
    except Exception:  # a type the default dialect cannot render: its repr names it
        return repr(type_)
