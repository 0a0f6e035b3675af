"""The SQL manage writes for PostgreSQL enum types, recognised so the replay can follow it."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from alembic.operations import ops
from sqlalchemy import Column, Enum
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from manage.core.replay.recorder import _statements
from manage.core.replay.safe_sql import own_safe_sql

if TYPE_CHECKING:
    from manage.core.replay.state import SchemaState


# What makemigrations writes when the values of a PostgreSQL enum change (core/migrations/enums.py's
# EnumValuesOp): values added in place, or the type renamed to <name>_old, created anew, the
# columns cast to it with alter_column (which the replay follows), and the old type dropped.
# Each statement is matched alone (no DOTALL: nothing may follow it).
_IDENT = r'(?:"[^"]+"|\w+)'
_TYPE = rf"(?:(?P<schema>{_IDENT})\.)?(?P<name>{_IDENT})"
_ADD_ENUM_VALUE = re.compile(
    rf"^ALTER TYPE {_TYPE} ADD VALUE (?:IF NOT EXISTS )?'(?P<value>(?:[^']|'')*)'"
    r"(?: (?P<where>BEFORE|AFTER) '(?P<other>(?:[^']|'')*)')?$"
)
_RENAME_ENUM = re.compile(rf"^ALTER TYPE {_TYPE} RENAME TO (?P<to>{_IDENT})$")
_CREATE_ENUM = re.compile(rf"^CREATE TYPE {_TYPE} AS ENUM \((?:[^;'()]|'(?:[^']|'')*')*\)$")
_DROP_ENUM = re.compile(rf"^DROP TYPE {_TYPE}$")


def _unquote(name: str | None) -> str | None:
    if name is not None and name.startswith('"'):
        return name[1:-1]
    return name


def _enum_type_ddl(state: SchemaState, operation: ops.ExecuteSQLOp) -> bool:
    """Follow manage's own enum-type statements; False for any other SQL (then nothing of it is
    applied: every statement of the string must be one of them)."""
    sql = operation.sqltext
    if not isinstance(sql, str) or state.dialect_name != "postgresql":
        return False
    parts = _statements(sql)
    if len(parts) != 1:
        return False
    sql = parts[0]
    if found := _RENAME_ENUM.match(sql):
        key = (_unquote(found["schema"]), _unquote(found["name"]))
        if _unquote(found["to"]) != f"{key[1]}_old" or not _enum_columns(state, *key):
            return False
        state.renamed_enums[key] = False  # renamed away; CREATE TYPE and DROP TYPE follow
        return True
    if found := _CREATE_ENUM.match(sql):
        key = (_unquote(found["schema"]), _unquote(found["name"]))
        if state.renamed_enums.get(key) is not False:
            return False
        state.renamed_enums[key] = True  # the columns move to it through alter_column
        return True
    if found := _DROP_ENUM.match(sql):
        schema, name = _unquote(found["schema"]), _unquote(found["name"]) or ""
        key = (schema, name.removesuffix("_old"))
        if not name.endswith("_old") or state.renamed_enums.get(key) is not True:
            return False
        del state.renamed_enums[key]
        return True
    found = _ADD_ENUM_VALUE.match(sql)
    if found is None:
        return False
    value = found["value"].replace("''", "'")
    for column in _enum_columns(state, _unquote(found["schema"]), _unquote(found["name"])):
        type_ = _unwrapped(column.type)
        assert isinstance(type_, Enum)
        if value in type_.enums:
            continue
        values = list(type_.enums)
        other = (found["other"] or "").replace("''", "'")
        at = len(values)
        if other in values:
            at = values.index(other) + (found["where"] == "AFTER")
        values.insert(at, value)
        column.type = Enum(
            *values,
            name=type_.name,
            schema=type_.schema,
            create_type=False,
            native_enum=type_.native_enum,
        )
    return True


def own_enum_sql(sql: Any) -> bool:
    """Whether ``sql`` is one of the enum-type statements makemigrations itself writes
    (:func:`_enum_type_ddl` follows them in order), or a statement of its lock-light forms
    (core/replay/safe_sql.py), not a hand-written step."""
    if own_safe_sql(sql):  # issue 14: the lock-light forms' statements
        return True
    if isinstance(sql, TextClause):
        sql = sql.text
    if not isinstance(sql, str) or len(parts := _statements(sql)) != 1:
        return False
    if found := _RENAME_ENUM.match(parts[0]):
        return _unquote(found["to"]) == f"{_unquote(found['name'])}_old"
    if found := _DROP_ENUM.match(parts[0]):
        return (_unquote(found["name"]) or "").endswith("_old")
    return any(form.match(parts[0]) for form in (_CREATE_ENUM, _ADD_ENUM_VALUE))


_OWN_ENUM_STEP = re.compile(r"\.(create|drop)\(\s*op\.get_bind\(\),\s*checkfirst=True,?\s*\)")


def hand_written_steps(source: str) -> bool:
    """Whether a migration's source runs SQL or reads data (``op.execute``, ``op.get_bind``)
    other than the enum-type statements manage writes itself."""
    if "get_bind(" in _OWN_ENUM_STEP.sub("", source):
        return True
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "op.execute(" in source
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "op"
        ):
            continue
        first = node.args[0] if node.args else None
        if not (isinstance(first, ast.Constant) and own_enum_sql(first.value)):
            return True
    return False


def _enum_columns(state: SchemaState, schema: str | None, name: str | None) -> list[Column[Any]]:
    """The columns of the replayed schema whose type is enum ``schema.name``."""
    return [
        column
        for table in state.metadata.tables.values()
        for column in table.columns
        if isinstance(type_ := _unwrapped(column.type), Enum)
        and type_.name == name
        and type_.schema == schema
    ]


def _unwrapped(type_: Any) -> Any:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_
