"""A replayed schema as a Mermaid ``erDiagram`` (GitHub and most docs tools draw it): tables,
columns with their types, PK/FK/UK markers, and a relationship per foreign key."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Enum, Index, Table, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError

from manage.core.replay import SchemaState

_NOT_A_WORD = re.compile(r"[^\w-]")
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def diagram(state: SchemaState, dialect: Dialect) -> str:
    """The ``erDiagram`` text of ``state``, with the types ``dialect`` gives the columns."""
    tables = sorted(state.metadata.tables.values(), key=lambda t: t.key)
    lines = ["erDiagram"]
    for table in tables:
        lines.append(f"    {_entity(table.key)} {{")
        keys = _keys(table)
        for column in table.columns:
            line = f"        {_type(column.type, dialect)} {_word(column.name)}"
            if marks := keys.get(column.name):
                line += f" {', '.join(marks)}"
            if column.comment:
                line += f' "{_comment(column.comment)}"'
            lines.append(line)
        lines.append("    }")
    for table in tables:
        for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            columns = [c.name for c in fk.columns]
            referred = fk.elements[0].target_fullname.rpartition(".")[0]
            parent = "|o" if any(c.nullable for c in fk.columns) else "||"
            child = "o|" if _unique(table, columns) else "o{"
            label = ", ".join(columns)
            lines.append(
                f'    {_entity(referred)} {parent}--{child} {_entity(table.key)} : "{label}"'
            )
    return "\n".join(lines) + "\n"


def _keys(table: Table) -> dict[str, list[str]]:
    marks: dict[str, list[str]] = {}
    for column in table.primary_key.columns:
        marks.setdefault(column.name, []).append("PK")
    for fk in table.foreign_keys:
        if "FK" not in marks.get(fk.parent.name, []):
            marks.setdefault(fk.parent.name, []).append("FK")
    for column in table.columns:
        if "PK" not in marks.get(column.name, []) and _unique(table, [column.name]):
            marks.setdefault(column.name, []).append("UK")
    return marks


def _unique(table: Table, columns: list[str]) -> bool:
    """Whether the primary key, a unique constraint or a unique index is on exactly ``columns``."""
    wanted = set(columns)
    keys: list[Any] = [table.primary_key]
    keys += [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [i for i in table.indexes if isinstance(i, Index) and i.unique]
    return any({c.name for c in key.columns} == wanted for key in keys if len(key.columns))


def _type(kind: Any, dialect: Dialect) -> str:
    """The type as one Mermaid word: ``VARCHAR(250)``, ``TIMESTAMP_WITH_TIME_ZONE``,
    ``NUMERIC(10-2)`` (no commas there), ``ENUM(loan_status)`` on every dialect."""
    if isinstance(kind, Enum):
        return f"ENUM({_word(kind.name)})" if kind.name else "ENUM"
    try:
        text = str(kind.compile(dialect=dialect))
    except SQLAlchemyError:
        text = type(kind).__name__.upper()
    text = _QUOTED.sub("", text).replace("()", "")
    text = re.sub(r"\s*,\s*", "-", text.strip())
    text = re.sub(r"\s+", "_", text)
    text = re.sub(r"[^\w()\[\]-]", "", text)
    return text if text[:1].isalpha() else f"T{text}"


def _word(name: str) -> str:
    word = _NOT_A_WORD.sub("_", name)
    return word if word[:1].isalpha() or word[:1] == "_" else f"_{word}"


def _entity(key: str) -> str:
    """A table's key (``schema.table`` when in a schema) as a Mermaid entity name."""
    return _word(key)


def _comment(text: str) -> str:
    return " ".join(text.replace('"', "'").split())
