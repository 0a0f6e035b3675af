"""Whether a column's server default or enum values changed: one answer for a real database
and for the in-memory replay (core/replay/), on every dialect.

Alembic's own comparison asks PostgreSQL itself (``SELECT 'a' = 'b'``), which the in-memory
replay cannot do, and each database reflects a default its own way (PostgreSQL ``'x'::character
varying``, MariaDB ``current_timestamp()``, ``1`` for ``true``). Both sides are reduced to one
spelling and compared as text.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Computed, Enum, Identity, Sequence
from sqlalchemy.sql.schema import DefaultClause
from sqlalchemy.types import TypeDecorator

from manage.compat import is_autoincrement_column

# A PostgreSQL cast: ::text, ::character varying(20), ::status2, ::"PubState", ::s1.pubstate
_NAME = r'(?:"[^"]+"|[a-z_][a-z0-9_]*)'
_CAST = re.compile(
    rf"::(?:{_NAME}\.)?(?:\"[^\"]+\"|[a-z_][a-z0-9_ ]*)(\(\d+(,\s*\d+)?\))?(\[\])?",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d+\.\d+")
_SAME = {"now()": "current_timestamp", "current_timestamp()": "current_timestamp"}
_BOOLEANS = {"true": "1", "false": "0"}


def normalized(default: str | None) -> str | None:
    """``default`` (a reflected or rendered server default) in one spelling."""
    if default is None:
        return None
    text = _CAST.sub("", default.strip())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    lowered = text.lower()
    if _NUMBER.fullmatch(lowered):  # MariaDB reflects NUMERIC(4, 2)'s 1.5 as 1.50
        return format(Decimal(lowered).normalize(), "f")
    return _SAME.get(lowered) or _BOOLEANS.get(lowered) or lowered


def _expression(text: Any) -> str:
    """A generated column's expression without spaces, parentheses, quotes or case: each
    database gives it back its own way."""
    return re.sub(r"[\s()`\"]", "", str(text)).lower()


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


_NEXTVAL = re.compile(
    r"""\s*nextval\(\s*'?(?:[`"]?\w+[`"]?\.)?[`"]?(?P<name>\w+)[`"]?'?(?:::regclass)?\s*\)\s*""",
    re.IGNORECASE,
)


def nextval_default(sequence: Sequence, dialect_name: str) -> str:
    """The server default that takes a column's values from ``sequence``."""
    if dialect_name == "postgresql":
        name = f"{sequence.schema}.{sequence.name}" if sequence.schema else sequence.name
        return f"nextval('{name}')"
    return f"nextval({f'{sequence.schema}.' if sequence.schema else ''}{sequence.name})"


def takes_from(inspected_default: str | None, default: Any) -> bool:
    """Whether a reflected server default is ``nextval`` of the model's ``Sequence`` ``default``
    (PostgreSQL: ``nextval('s'::regclass)``, MariaDB: ``nextval(`db`.`s`)``)."""
    if not isinstance(default, Sequence) or inspected_default is None:
        return False
    found = _NEXTVAL.fullmatch(inspected_default)
    return found is not None and found["name"].lower() == str(default.name).lower()


def server_default_changed(
    _context: Any,
    _inspected_column: Column[Any],
    metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic's ``compare_server_default`` hook. None (Alembic decides) for computed and
    identity columns; False for the serial primary key, whose sequence default the models
    leave to the database, and for an identity column where the database keeps no identity to
    compare (SQLite, MariaDB: Alembic would report its ``Identity`` as a change every time)."""
    if isinstance(metadata_default, Computed):
        inspected = _inspected_column.computed
        if inspected is not None and _expression(inspected.sqltext) == _expression(
            metadata_default.sqltext
        ):
            return False
        return None
    if isinstance(metadata_default, Identity):
        return None if isinstance(_inspected_column.server_default, Identity) else False
    if metadata_default is not None and not isinstance(metadata_default, DefaultClause):
        return None
    if metadata_default is None and is_autoincrement_column(metadata_column.table, metadata_column):
        return False
    if metadata_default is None and takes_from(inspected_default, metadata_column.default):
        return False  # issue 16: the default a Sequence added to an existing column is given
    return normalized(inspected_default) != normalized(rendered_metadata_default)


def enum_values_changed(
    context: Any,
    _inspected_column: Column[Any],
    _metadata_column: Column[Any],
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic's ``compare_type`` hook: where enums are native (PostgreSQL's named types,
    MySQL/MariaDB's ``ENUM``), a model's enum whose values differ from the schema's, in order,
    has changed; Alembic compares only the type's name on PostgreSQL. None (Alembic decides)
    when they are the same and: SQLite keeps an enum as a VARCHAR as long as its longest value."""
    if isinstance(metadata_type, TypeDecorator):  # a project's type around an Enum
        metadata_type = metadata_type.load_dialect_impl(context.dialect)
    if not isinstance(metadata_type, Enum) or not metadata_type.native_enum:
        return None
    if not context.dialect.supports_native_enum:
        return None
    values = getattr(inspected_type, "enums", None)
    if values is None:
        return None
    return True if list(values) != list(metadata_type.enums) else None
