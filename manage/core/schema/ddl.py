"""A replayed schema written as the DDL that creates it, for a dialect, offline: what
``metadata.create_all`` would run on an empty database, in the same order."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Enum, Sequence, Table
from sqlalchemy.dialects.postgresql import CreateEnumType
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateSchema,
    CreateSequence,
    CreateTable,
    SetColumnComment,
    SetTableComment,
    sort_tables_and_constraints,
)

from manage.core.offline import _tidy
from manage.core.replay import SchemaState
from manage.errors import SchemaRenderError


def offline_dialect(name: str) -> Dialect:
    """The dialect ``name`` as the replay and Alembic's offline mode use it (no connection)."""
    dialect: Dialect = MigrationContext.configure(dialect_name=name).dialect
    return dialect


def create_statements(state: SchemaState, dialect: Dialect) -> list[str]:
    """The statements that create ``state`` on an empty database, each without its ``;``:
    PostgreSQL's schemas and enum types, sequences, then each table (referred tables first)
    followed by its comments (PostgreSQL) and indexes, then the foreign keys of tables that
    refer to each other in a cycle."""
    tables = list(state.metadata.tables.values())
    elements: list[Any] = []
    if dialect.name == "postgresql":
        elements += [CreateSchema(s) for s in sorted({t.schema for t in tables if t.schema})]
        elements += [CreateEnumType(enum) for enum in _named_enums(tables)]
    if dialect.name in ("postgresql", "mariadb"):
        for schema, name in sorted(state.sequences, key=lambda s: (s[0] or "", s[1])):
            elements.append(CreateSequence(Sequence(name, schema=schema)))
    late: list[Any] = []
    for table, constraints in sort_tables_and_constraints(tables):  # type: ignore[no-untyped-call]
        if table is None:  # tables referring to each other: their keys come after both
            late += [AddConstraint(c) for c in constraints] if dialect.supports_alter else []
            continue
        inline = constraints if dialect.supports_alter else None
        elements.append(CreateTable(table, include_foreign_key_constraints=inline))
        if dialect.supports_comments and not dialect.inline_comments:
            elements += [SetTableComment(table)] if table.comment else []
            elements += [SetColumnComment(c) for c in table.columns if c.comment]
        elements += [CreateIndex(i) for i in sorted(table.indexes, key=lambda i: str(i.name))]
    return [_compiled(element, dialect) for element in [*elements, *late]]


def _named_enums(tables: list[Table]) -> list[Enum]:
    """The native enum types the tables use (PostgreSQL's CREATE TYPE), each once."""
    found: dict[tuple[str | None, str], Enum] = {}
    for table in tables:
        for column in table.columns:
            kind = column.type
            if isinstance(kind, Enum) and kind.native_enum and kind.name:
                found.setdefault((kind.schema, kind.name), kind)
    return list(found.values())


def _compiled(element: Any, dialect: Dialect) -> str:
    try:
        text = str(element.compile(dialect=dialect))
    except SQLAlchemyError as exc:
        target = getattr(element, "element", element)
        name = getattr(target, "name", type(target).__name__)
        raise SchemaRenderError(
            f"Cannot write {name!r} for {dialect.name}: {exc}. The migrations use something "
            f"{dialect.name} has no equivalent for; give the dialect they were written for "
            "with --dialect."
        ) from exc
    return _tidy(text).strip()
