"""Whether SQL a migration runs may delete data, read with a real SQL tokenizer (sqlparse):
keywords count, the same words inside string literals, quoted names and comments do not."""

from __future__ import annotations

from typing import Any

import sqlparse
from sqlalchemy import ClauseElement, TextClause
from sqlalchemy.engine import Dialect
from sqlparse import tokens

DELETING = frozenset({"DROP", "DELETE", "TRUNCATE"})
"""Keywords that delete data wherever they stand (``ALTER TABLE t DROP c`` included)."""


def sql_of(sql: Any, dialect: Dialect | None = None) -> str | None:
    """The SQL text of what ``op.execute`` was given: a string, ``sa.text()``, ``sa.DDL()`` or
    any other construct compiled for ``dialect``; None when it cannot be rendered."""
    if isinstance(sql, str):
        return sql
    if isinstance(sql, TextClause):
        return sql.text
    statement = getattr(sql, "statement", None)  # sa.DDL("...")
    if isinstance(statement, str):
        return statement
    if isinstance(sql, ClauseElement) or hasattr(sql, "compile"):
        try:
            return str(sql.compile(dialect=dialect))
        except Exception:  # an unbound construct the dialect cannot render
            return None
    return None


def deleting_keyword(sql: str) -> str | None:
    """The first keyword of ``sql`` that deletes data (``DROP``, ``DELETE``, ``TRUNCATE``), or
    None. Bodies in dollar quotes (``DO $$ ... $$``, function bodies) are code and are read
    too, with the string literals inside them (``EXECUTE 'DROP TABLE t'``)."""
    return _scan(sql, in_body=False)


def _scan(sql: str, *, in_body: bool) -> str | None:
    for statement in sqlparse.parse(sql):
        for token in statement.flatten():  # type: ignore[no-untyped-call]
            word = str(token.normalized).upper()
            if token.is_keyword and word in DELETING:
                return word
            if token.ttype in tokens.Literal or token.ttype in tokens.String:
                body = _body(token.value, in_body=in_body)
                if body is not None and (found := _scan(body, in_body=True)):
                    return found
    return None


def _body(literal: str, *, in_body: bool) -> str | None:
    """The code inside a dollar-quoted literal, or inside any quoted string of such code."""
    if literal.startswith("$"):
        tag_end = literal.find("$", 1)
        if tag_end > 0 and literal.endswith(literal[: tag_end + 1]) and len(literal) > 2 * tag_end:
            return literal[tag_end + 1 : -(tag_end + 1)]
    if in_body and len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "'\"":
        return literal[1:-1].replace(literal[0] * 2, literal[0])
    return None


_DATA_ONLY = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE"})


def changes_schema(sql: str) -> bool:
    """Whether ``sql`` has a statement that is not plain data (SELECT, INSERT, UPDATE, DELETE):
    DDL, or something the tokenizer cannot classify (``SET``, a ``DO`` block)."""
    for statement in sqlparse.parse(sql):
        kind = statement.get_type()  # type: ignore[no-untyped-call]
        if kind == "UNKNOWN" and not statement.value.strip(" \t\r\n;"):
            continue  # an empty statement, or only a comment
        if kind not in _DATA_ONLY:
            return True
    return False


def drops_only_a_type(sql: str) -> bool:
    """``DROP TYPE name`` without CASCADE (how an enum type goes): it fails rather than take a
    column with it, so no data can go."""
    statements = [s for s in sqlparse.parse(sql) if s.value.strip(" \t\r\n;")]
    if len(statements) != 1:
        return False
    words = [
        str(t.normalized).upper()
        for t in statements[0].flatten()  # type: ignore[no-untyped-call]
        if t.is_keyword
    ]
    return words[:2] == ["DROP", "TYPE"] and "CASCADE" not in words
