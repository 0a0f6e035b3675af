"""SQL statements read into the schema changes the lint rules judge (sqlparse tokens: keywords
count, the same words in string literals, quoted names and comments do not)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlparse
from sqlparse import tokens


@dataclass(frozen=True, slots=True)
class Change:
    """One schema change a statement makes (an ``ALTER TABLE`` with several actions makes one
    each). ``kind`` is one of the names the rules match on (``create_index``, ``add_column``,
    ``set_not_null``, ...)."""

    kind: str
    table: str | None = None
    column: str | None = None
    name: str | None = None
    """An index's or constraint's name, a renamed object's new name."""
    flags: frozenset[str] = frozenset()
    """Keywords that change the rule's answer: CONCURRENTLY, UNIQUE, NOT_VALID, IF_EXISTS,
    NOT_NULL, DEFAULT, PRIMARY_KEY, GENERATED, REFERENCES, ONLINE (MySQL ALGORITHM/LOCK)."""
    words: tuple[str, ...] = ()
    """The change's own words, upper-cased (a column's type and options, a CHECK's expression)."""
    subject: str = ""
    """How the change is named in a finding: ``CREATE INDEX ix_book_isbn ON book``."""
    columns: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    """``create_table``: each column's name and its type's words."""


def read(sql: str) -> list[Change]:
    """The schema changes in ``sql`` (one or more statements); statements that change no schema
    (SELECT, INSERT, ...) give none."""
    found: list[Change] = []
    for statement in sqlparse.parse(sql):
        words, raw = _words(statement)
        if words:
            found += _changes(words, raw)
    return found


def _words(statement: sqlparse.sql.Statement) -> tuple[list[str], list[str]]:
    up: list[str] = []
    raw: list[str] = []
    for token in statement.flatten():  # type: ignore[no-untyped-call]
        if token.is_whitespace or token.ttype in tokens.Comment:
            continue
        value = str(token.value)
        if token.ttype in tokens.Name or token.ttype in tokens.String.Symbol:
            name = value.strip('"`')
            up.append(name.upper())
            raw.append(name)
        elif token.is_keyword:
            for part in value.split():
                up.append(part.upper())
                raw.append(part)
        elif value != ";":
            up.append(value.upper())
            raw.append(value)
    return up, raw


def _at(words: list[str], index: int) -> str:
    return words[index] if index < len(words) else ""


def _skip(words: list[str], index: int, *optional: str) -> int:
    """``index`` moved past an optional phrase (``IF NOT EXISTS``) starting there."""
    if words[index : index + len(optional)] == list(optional):
        return index + len(optional)
    return index


def _name(words: list[str], raw: list[str], index: int) -> tuple[str, int]:
    """A possibly schema-qualified name at ``index``: its last part, and the index after it."""
    name = _at(raw, index)
    index += 1
    while _at(words, index) == "." and index + 1 < len(words):
        name = raw[index + 1]
        index += 2
    return name, index


def _changes(words: list[str], raw: list[str]) -> list[Change]:
    head = words[0]
    if head in ("BEGIN", "COMMIT", "ROLLBACK", "END") or words[:2] == ["START", "TRANSACTION"]:
        if head == "BEGIN" and _at(words, 1) not in ("", "TRANSACTION", "WORK", "ISOLATION"):
            return []  # a PL/pgSQL block's BEGIN is not a transaction's
        return [Change("transaction", subject=" ".join(raw[:2]))]
    if head == "SET" and "ALTER_ALGORITHM" in words[:3]:  # MariaDB's session default
        at = words.index("ALTER_ALGORITHM")
        value = _at(words, at + 2).strip("'\"")
        return [Change("alter_algorithm", name=value, subject=" ".join(raw))]
    if head == "CREATE":
        return _create(words, raw)
    if head == "DROP":
        return _drop(words, raw)
    if head == "ALTER" and _at(words, 1) == "TABLE":
        return list(_alter_table(words, raw))
    if head == "RENAME" and _at(words, 1) == "TABLE":  # MySQL
        table, after = _name(words, raw, 2)
        new, _ = _name(words, raw, after + 1)
        return [Change("rename_table", table, name=new, subject=f"RENAME TABLE {table}")]
    return []


def _create(words: list[str], raw: list[str]) -> list[Change]:
    index = 1
    flags = set()
    if _at(words, index) == "UNIQUE":
        flags.add("UNIQUE")
        index += 1
    if _at(words, index) == "INDEX":
        index += 1
        if _at(words, index) == "CONCURRENTLY":
            flags.add("CONCURRENTLY")
            index += 1
        after = _skip(words, index, "IF", "NOT", "EXISTS")
        if after != index:
            flags.add("IF_EXISTS")
        name = ""
        if _at(words, after) != "ON":
            name, after = _name(words, raw, after)
        on = words.index("ON", after) if "ON" in words[after:] else len(words)
        table, _ = _name(words, raw, _skip(words, on + 1, "ONLY"))
        flags |= _online(words)
        unique = "UNIQUE " if "UNIQUE" in flags else ""
        unique += "INDEX CONCURRENTLY" if "CONCURRENTLY" in flags else "INDEX"
        return [
            Change(
                "create_index", table, name=name, flags=frozenset(flags),
                subject=f"CREATE {unique} {name} ON {table}".replace("  ", " "),
            )
        ]  # fmt: skip
    if _at(words, index) in ("TABLE",) or words[1:3] in (["TEMP", "TABLE"], ["TEMPORARY", "TABLE"]):
        at = words.index("TABLE") + 1
        table, after = _name(words, raw, _skip(words, at, "IF", "NOT", "EXISTS"))
        return [Change("create_table", table, columns=_table_columns(words, raw, after),
                       subject=f"CREATE TABLE {table}")]  # fmt: skip
    return []


def _table_columns(
    words: list[str], raw: list[str], index: int
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if _at(words, index) != "(":
        return ()
    columns = []
    for start, end in _parts(words, index + 1, closing=True):
        if words[start] in ("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "EXCLUDE"):
            continue
        columns.append((raw[start], tuple(words[start + 1 : end])))
    return tuple(columns)


def _drop(words: list[str], raw: list[str]) -> list[Change]:
    kind = _at(words, 1)
    if kind == "INDEX":
        index, flags = 2, set()
        if _at(words, index) == "CONCURRENTLY":
            flags.add("CONCURRENTLY")
            index += 1
        after = _skip(words, index, "IF", "EXISTS")
        if after != index:
            flags.add("IF_EXISTS")
        name, after = _name(words, raw, after)
        table = None
        if _at(words, after) == "ON":  # MySQL: DROP INDEX name ON table
            table, _ = _name(words, raw, after + 1)
        flags |= _online(words)
        label = "DROP INDEX CONCURRENTLY" if "CONCURRENTLY" in flags else "DROP INDEX"
        return [Change("drop_index", table, name=name, flags=frozenset(flags),
                       subject=f"{label} {name}")]  # fmt: skip
    if kind == "TABLE":
        table, _ = _name(words, raw, _skip(words, 2, "IF", "EXISTS"))
        return [Change("drop_table", table, subject=f"DROP TABLE {table}")]
    if kind == "DATABASE":
        name, _ = _name(words, raw, _skip(words, 2, "IF", "EXISTS"))
        return [Change("drop_database", name=name, subject=f"DROP DATABASE {name}")]
    return []


def _online(words: list[str]) -> set[str]:
    """MySQL/MariaDB's ``ALGORITHM=INPLACE|INSTANT`` with ``LOCK=NONE`` (or INSTANT alone):
    the server refuses the change rather than copy the table under a lock."""
    options = {
        (words[i], words[i + 2]) for i in range(len(words) - 2)
        if words[i] in ("ALGORITHM", "LOCK") and words[i + 1] == "="
    }  # fmt: skip
    if ("ALGORITHM", "INSTANT") in options or ("LOCK", "NONE") in options:
        return {"ONLINE"}
    return set()


def _parts(words: list[str], index: int, *, closing: bool = False) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each comma-separated part from ``index`` at parenthesis depth 0
    (``closing``: up to the parenthesis that closes the one before ``index``)."""
    depth, start = 0, index
    for at in range(index, len(words)):
        word = words[at]
        if word == "(":
            depth += 1
        elif word == ")":
            if depth == 0 and closing:
                if at > start:
                    yield start, at
                return
            depth -= 1
        elif word == "," and depth == 0:
            if at > start:
                yield start, at
            start = at + 1
    if start < len(words):
        yield start, len(words)


def _alter_table(words: list[str], raw: list[str]) -> Iterator[Change]:
    index = _skip(words, 2, "IF", "EXISTS")
    index = _skip(words, index, "ONLY")
    table, index = _name(words, raw, index)
    online = frozenset(_online(words))
    for start, end in _parts(words, index):
        part, names = words[start:end], raw[start:end]
        if part[0] in ("ALGORITHM", "LOCK"):
            continue
        change = _action(table, part, names)
        if change is not None:
            yield Change(change.kind, change.table, change.column, change.name,
                         change.flags | online, change.words, change.subject)  # fmt: skip


def _action(table: str, part: list[str], names: list[str]) -> Change | None:
    verb = part[0]
    where = f"ALTER TABLE {table}"
    if verb == "ADD":
        at = 1
        if _at(part, at) == "CONSTRAINT":
            name = names[at + 1]
            at += 2
        else:
            name = ""
        kind = _at(part, at)
        not_valid = {"NOT_VALID"} if part[-2:] == ["NOT", "VALID"] else set()
        if kind == "FOREIGN":
            return Change("add_foreign_key", table, name=name, flags=frozenset(not_valid),
                          subject=f"{where} ADD FOREIGN KEY {name}".rstrip())  # fmt: skip
        if kind == "CHECK":
            return Change("add_check", table, name=name, flags=frozenset(not_valid),
                          words=tuple(part[at + 1 :]),
                          subject=f"{where} ADD CHECK {name}".rstrip())  # fmt: skip
        if kind in ("UNIQUE", "PRIMARY"):
            using = {"USING_INDEX"} if "USING" in part and "INDEX" in part else set()
            label = "UNIQUE" if kind == "UNIQUE" else "PRIMARY KEY"
            return Change("add_unique" if kind == "UNIQUE" else "add_primary_key", table,
                          name=name, flags=frozenset(using),
                          subject=f"{where} ADD {label} {name}".rstrip())  # fmt: skip
        if kind in ("INDEX", "KEY", "FULLTEXT", "SPATIAL"):  # MySQL
            return Change("create_index", table, name=name, subject=f"{where} ADD INDEX")
        if kind == "EXCLUDE":
            return Change("add_unique", table, name=name, subject=f"{where} ADD EXCLUDE")
        at = _skip(part, at, "COLUMN")
        at = _skip(part, at, "IF", "NOT", "EXISTS")
        column = names[at] if at < len(part) else ""
        return _add_column(table, column, part[at + 1 :])
    if verb in ("ALTER", "MODIFY", "CHANGE"):
        at = _skip(part, 1, "COLUMN")
        column = names[at] if at < len(part) else ""
        rest = part[at + 1 :]
        subject = f"{where} {verb} COLUMN {column}"
        if verb in ("MODIFY", "CHANGE"):  # MySQL: the whole definition again
            if verb == "CHANGE" and rest:
                new_name, rest = names[at + 1], rest[1:]
                if new_name.upper() != column.upper():
                    return Change("rename_column", table, column, name=new_name,
                                  subject=f"{where} CHANGE COLUMN {column}")  # fmt: skip
            flags = {"NOT_NULL"} if "NOT" in rest and "NULL" in rest else set()
            return Change("modify_column", table, column, flags=frozenset(flags),
                          words=tuple(rest), subject=subject)  # fmt: skip
        if rest[:3] == ["SET", "NOT", "NULL"]:
            return Change("set_not_null", table, column, subject=f"{subject} SET NOT NULL")
        if rest[:3] == ["DROP", "NOT", "NULL"]:
            return Change("drop_not_null", table, column, subject=f"{subject} DROP NOT NULL")
        if rest[:1] == ["TYPE"] or rest[:3] == ["SET", "DATA", "TYPE"]:
            type_words = rest[1:] if rest[0] == "TYPE" else rest[3:]
            return Change("alter_type", table, column, words=tuple(type_words),
                          subject=f"{subject} TYPE {_type_text(type_words)}")  # fmt: skip
        return None
    if verb == "DROP":
        at = 1
        if _at(part, at) == "CONSTRAINT":
            name = _at(names, _skip(part, at + 1, "IF", "EXISTS"))
            return Change("drop_constraint", table, name=name,
                          subject=f"{where} DROP CONSTRAINT {name}")  # fmt: skip
        if _at(part, at) in ("INDEX", "KEY"):
            return Change("drop_index", table, name=_at(names, at + 1),
                          subject=f"{where} DROP INDEX {_at(names, at + 1)}")  # fmt: skip
        if _at(part, at) in ("PRIMARY", "FOREIGN", "CHECK"):
            return None
        at = _skip(part, at, "COLUMN")
        at = _skip(part, at, "IF", "EXISTS")
        column = _at(names, at)
        return Change("drop_column", table, column, subject=f"{where} DROP COLUMN {column}")
    if verb == "RENAME":
        if _at(part, 1) == "TO" or (_at(part, 1) == "AS"):
            return Change("rename_table", table, name=_at(names, 2), subject=f"{where} RENAME TO")
        if _at(part, 1) in ("CONSTRAINT", "INDEX", "KEY"):
            return None
        at = _skip(part, 1, "COLUMN")
        column = _at(names, at)
        return Change("rename_column", table, column, name=_at(names, at + 2),
                      subject=f"{where} RENAME COLUMN {column}")  # fmt: skip
    if verb == "VALIDATE" and _at(part, 1) == "CONSTRAINT":
        return Change("validate", table, name=_at(names, 2),
                      subject=f"{where} VALIDATE CONSTRAINT {_at(names, 2)}")  # fmt: skip
    return None


def _type_text(type_words: list[str]) -> str:
    end = type_words.index("USING") if "USING" in type_words else len(type_words)
    text = ""
    for word in type_words[:end]:
        glued = word in ("(", ")", ",") or text.endswith("(")
        text += word if glued or not text else f" {word}"
    return text


def _add_column(table: str, column: str, rest: list[str]) -> Change:
    flags = set()
    text = " ".join(rest)
    if "NOT NULL" in text:
        flags.add("NOT_NULL")
    if "DEFAULT" in rest:
        flags.add("DEFAULT")
    if "PRIMARY KEY" in text:
        flags.add("PRIMARY_KEY")
    if "GENERATED" in rest and "STORED" in rest:
        flags.add("GENERATED")
    if "REFERENCES" in rest:
        flags.add("REFERENCES")
    if "UNIQUE" in rest:
        flags.add("UNIQUE")
    if "CHECK" in rest:
        flags.add("CHECK")
    return Change("add_column", table, column, flags=frozenset(flags), words=tuple(rest),
                  subject=f"ALTER TABLE {table} ADD COLUMN {column}")  # fmt: skip
