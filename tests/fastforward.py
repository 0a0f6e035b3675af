"""The reflected schema of a database, as plain data two databases can be compared by (issue 15:
a fast-forwarded database and a step-by-step one must have the same)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from manage.core.history import HISTORY_TABLE


def _plain(value: Any) -> Any:
    """A reflected value as comparable data: types by their DDL, clauses by their text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items()) if k != "sqlite_autoincrement"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, sa.types.TypeEngine):
        return repr(value)
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def reflected_schema(url: str) -> dict[str, Any]:
    """Every table (but the history table) of every schema of the database at ``url``: columns
    in order with types, nullability, defaults, comments, identity and computed; primary key,
    foreign keys, unique and check constraints with their names; indexes; the table comment;
    and PostgreSQL's enum types and every sequence."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            dialect = connection.dialect.name
            schemas: list[str | None] = [None]
            if dialect == "postgresql":
                schemas += sorted(
                    s
                    for s in inspector.get_schema_names()
                    if s not in ("public", "information_schema") and not s.startswith("pg_")
                )
            found: dict[str, Any] = {}
            for schema in schemas:
                for name in sorted(inspector.get_table_names(schema=schema)):
                    if name == HISTORY_TABLE:
                        continue
                    key = f"{schema}.{name}" if schema else name
                    found[key] = _table(inspector, name, schema)
                if dialect != "sqlite":
                    found[f"sequences {schema}"] = sorted(
                        n
                        for n in inspector.get_sequence_names(schema=schema)
                        if not n.startswith(HISTORY_TABLE)
                    )
            if dialect == "postgresql":
                found["enums"] = sorted(
                    (str(e["schema"]), e["name"], list(e["labels"]))
                    for e in inspector.get_enums(schema="*")  # type: ignore[attr-defined]
                )
            return found
    finally:
        engine.dispose()


def _table(inspector: Any, name: str, schema: str | None) -> dict[str, Any]:
    def by_name(items: list[dict[str, Any]]) -> list[Any]:
        return sorted((_plain(i) for i in items), key=repr)

    return {
        "columns": [_plain(c) for c in inspector.get_columns(name, schema=schema)],
        "primary key": _plain(inspector.get_pk_constraint(name, schema=schema)),
        "foreign keys": by_name(inspector.get_foreign_keys(name, schema=schema)),
        "unique": by_name(inspector.get_unique_constraints(name, schema=schema)),
        "checks": by_name(inspector.get_check_constraints(name, schema=schema)),
        "indexes": by_name(inspector.get_indexes(name, schema=schema)),
        "comment": _plain(inspector.get_table_comment(name, schema=schema))
        if inspector.dialect.supports_comments
        else None,
    }


def differences(left: dict[str, Any], right: dict[str, Any]) -> list[str]:
    """What differs between two reflected schemas, one line per table or part."""
    lines = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for part in sorted(set(a) | set(b)):
                if a.get(part) != b.get(part):
                    one, two = a.get(part), b.get(part)
                    lines.append(f"{key} {part}:\n  one pass:     {one}\n  step by step: {two}")
        else:
            lines.append(f"{key}:\n  one pass:     {a}\n  step by step: {b}")
    return lines
