"""The SQL of manage's lock-light migrations (core/safe_ddl.py), read back so the replay can
follow it: each statement becomes the Alembic operation it amounts to, or changes nothing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from alembic.operations import ops
from sqlalchemy import UniqueConstraint
from sqlalchemy.schema import conv
from sqlalchemy.sql.elements import TextClause

from manage.core.replay.recorder import _statements

if TYPE_CHECKING:
    from manage.core.replay.state import SchemaState

# Each statement is matched alone, as core/safe_ddl.py writes it.
_IDENT = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\w+)'
_TABLE = rf"(?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})"
_VALIDATE = re.compile(rf"^ALTER TABLE {_TABLE} VALIDATE CONSTRAINT (?P<name>{_IDENT})$")
_USING_INDEX = re.compile(
    rf"^ALTER TABLE {_TABLE} ADD CONSTRAINT (?P<name>{_IDENT}) UNIQUE USING INDEX "
    rf"(?P<index>{_IDENT})$"
)
_CREATE_INDEX = re.compile(
    rf"^ALTER TABLE {_TABLE} ADD (?P<unique>UNIQUE )?INDEX (?P<name>{_IDENT}) "
    rf"\((?P<columns>{_IDENT}(?:, {_IDENT})*)\), ALGORITHM=INPLACE, LOCK=NONE$"
)
_DROP_INDEX = re.compile(
    rf"^ALTER TABLE {_TABLE} DROP INDEX (?P<name>{_IDENT}), ALGORITHM=INPLACE, LOCK=NONE$"
)
_FILL = re.compile(
    rf"^UPDATE {_TABLE} SET (?P<column>{_IDENT}) = DEFAULT WHERE (?P=column) IS NULL$"
)
_INSTANT = re.compile(r"^SET SESSION alter_algorithm = (?:'INSTANT'|DEFAULT)$")
_SCHEMA_FORMS = (_VALIDATE, _USING_INDEX, _CREATE_INDEX, _DROP_INDEX)


def _unquote(name: str | None) -> str | None:
    if name is not None and name[:1] in ('"', "`"):
        return name[1:-1].replace(name[0] * 2, name[0])
    return name


def _final(name: str | None) -> conv:
    """A name the SQL gives: the database's, which no naming convention renames."""
    return conv(_unquote(name) or "")


def _single(sql: Any) -> str | None:
    if isinstance(sql, TextClause):
        sql = sql.text
    if not isinstance(sql, str) or len(parts := _statements(sql)) != 1:
        return None
    return parts[0]


def own_safe_sql(sql: Any) -> bool:
    """Whether ``sql`` is a statement of a lock-light migration makemigrations wrote."""
    statement = _single(sql)
    forms = (*_SCHEMA_FORMS, _FILL, _INSTANT)
    return statement is not None and any(form.match(statement) for form in forms)


def schema_only_safe_sql(sql: Any) -> bool:
    """Whether ``sql`` is one of those statements that changes the schema, not rows."""
    statement = _single(sql)
    return statement is not None and any(form.match(statement) for form in _SCHEMA_FORMS)


def safe_ddl(state: SchemaState, revision: str, operation: ops.ExecuteSQLOp) -> bool:
    """Follow a lock-light statement; False for any other SQL (nothing of it is applied)."""
    statement = _single(operation.sqltext)
    if statement is None:
        return False
    if found := _VALIDATE.match(statement):
        table = state.table(_unquote(found["table"]) or "", _unquote(found["schema"]))
        name = _unquote(found["name"])
        if not any(c.name == name for c in table.constraints):
            raise KeyError(f"constraint {name}")
        return True  # NOT VALID or valid: the same schema
    if found := _USING_INDEX.match(statement):
        table = state.table(_unquote(found["table"]) or "", _unquote(found["schema"]))
        index = next((i for i in table.indexes if i.name == _unquote(found["index"])), None)
        if index is None or not index.unique:
            raise KeyError(f"unique index {_unquote(found['index'])}")
        table.indexes.discard(index)
        columns = [c.name for c in index.columns]
        table.append_constraint(UniqueConstraint(*columns, name=_final(found["name"])))
        return True
    if found := _CREATE_INDEX.match(statement):
        columns = [_unquote(c.strip()) or "" for c in found["columns"].split(",")]
        state.apply(
            revision,
            ops.CreateIndexOp(
                _final(found["name"]),
                _unquote(found["table"]) or "",
                columns,
                schema=_unquote(found["schema"]),
                unique=bool(found["unique"]),
            ),
        )
        return True
    if found := _DROP_INDEX.match(statement):
        state.apply(
            revision,
            ops.DropIndexOp(
                _final(found["name"]),
                _unquote(found["table"]),
                schema=_unquote(found["schema"]),
            ),
        )
        return True
    return False
