"""A replayed schema written as the DDL that creates it, for a dialect, offline: what
``metadata.create_all`` would run on an empty database, in the same order."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Enum, ForeignKeyConstraint, Sequence, Table
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
    left: list[str] = []  # enum types no column uses any more, as fastforward.py creates them
    if dialect.name == "postgresql":
        elements += [CreateSchema(s) for s in sorted({t.schema for t in tables if t.schema})]
        enums = _named_enums(tables)
        elements += [CreateEnumType(enum) for enum in enums]
        used = {(e.schema, str(e.name).lower()) for e in enums}
        left = [
            statement.strip().rstrip(";")
            for (kind, in_schema, name), statement in state.bound_ddl.items()
            if kind == "TYPE" and (in_schema, name) not in used
        ]
    if dialect.name in ("postgresql", "mariadb"):
        for schema, name in sorted(state.sequences, key=lambda s: (s[0] or "", s[1])):
            elements.append(CreateSequence(Sequence(name, schema=schema)))
    cyclic = _in_cycles(tables)
    late: list[Any] = []
    for table, constraints in sort_tables_and_constraints(  # type: ignore[no-untyped-call]
        tables, filter_fn=lambda fk: True if fk in cyclic else None
    ):
        if table is None:  # tables referring to each other: their keys come after both
            ordered = sorted(constraints, key=lambda c: (c.table.key, str(c.name)))
            late += [AddConstraint(c) for c in ordered] if dialect.supports_alter else []
            continue
        inline = constraints if dialect.supports_alter else None
        elements.append(CreateTable(table, include_foreign_key_constraints=inline))
        if dialect.supports_comments and not dialect.inline_comments:
            elements += [SetTableComment(table)] if table.comment else []
            elements += [SetColumnComment(c) for c in table.columns if c.comment]
        elements += [CreateIndex(i) for i in sorted(table.indexes, key=lambda i: str(i.name))]
    return [*left, *(_compiled(element, dialect) for element in [*elements, *late])]


def _in_cycles(tables: list[Table]) -> set[ForeignKeyConstraint]:
    """The foreign keys whose table is referred to back, through other tables' keys: every one
    of them is added after the tables (SQLAlchemy picks one per cycle, not always the same)."""
    refers: dict[str, set[str]] = {t.key: set() for t in tables}
    for table in tables:
        for fk in table.foreign_key_constraints:
            refers[table.key].add(_referred(fk))

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            key = todo.pop()
            if key == goal:
                return True
            if key not in seen:
                seen.add(key)
                todo.extend(refers.get(key, ()))
        return False

    return {
        fk
        for table in tables
        for fk in table.foreign_key_constraints
        if _referred(fk) != table.key and reaches(_referred(fk), table.key)
    }


def _referred(fk: ForeignKeyConstraint) -> str:
    return fk.elements[0].target_fullname.rpartition(".")[0]


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
        raise SchemaRenderError(
            f"{_culprit(element, dialect, exc)}, which {dialect.name} cannot express. The "
            "migrations were written for another database: name its dialect with --dialect."
        ) from exc
    return _tidy(text).strip()


def _culprit(element: Any, dialect: Dialect, exc: Exception) -> str:
    """What in ``element`` the dialect cannot write: a column's type, else the statement."""
    target = getattr(element, "element", None)
    if isinstance(target, Table):
        for column in target.columns:
            try:
                column.type.compile(dialect=dialect)
            except SQLAlchemyError:
                return f"Column {target.key}.{column.name} has type {type(column.type).__name__}"
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"The statement for {getattr(target, 'name', type(element).__name__)!r} needs {first}"
