"""Which rules each schema change of one migration breaks, in the order the migration makes them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, Text

from manage.core.lint.rules import RULES
from manage.core.lint.sqlread import Change


@dataclass(frozen=True, slots=True)
class Item:
    """One schema change, where the migration makes it."""

    change: Change
    line: int | None
    autocommit: bool
    """Issued inside ``autocommit_block()``: outside the migration's transaction."""
    operation: Any = None
    """The Alembic operation it was rendered from (None for ``op.execute`` SQL)."""


@dataclass
class Facts:
    """What earlier changes established: validated ``IS NOT NULL`` checks, constraints added
    NOT VALID (by name), tables created."""

    not_null_checks: set[tuple[str, str]] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    """Names of ``IS NOT NULL`` checks: dropping one after SET NOT NULL removes no guarantee."""
    not_valid: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Constraint name -> (table, the column of an ``IS NOT NULL`` check)."""

    def learn(self, change: Change) -> None:
        if change.kind == "add_check":
            column = _not_null_column(change.words)
            if column:
                self.helpers.add(_key(change.name))
            if "NOT_VALID" in change.flags:
                self.not_valid[(change.name or "").upper()] = (_key(change.table), column)
            elif column:
                self.not_null_checks.add((_key(change.table), column))
        elif change.kind == "validate":
            table, column = self.not_valid.pop((change.name or "").upper(), ("", None))
            if column:
                self.not_null_checks.add((table, column))


VOLATILE = frozenset({
    "RANDOM", "GEN_RANDOM_UUID", "UUID_GENERATE_V1", "UUID_GENERATE_V1MC", "UUID_GENERATE_V4",
    "UUIDV4", "UUIDV7", "CLOCK_TIMESTAMP", "TIMEOFDAY", "NEXTVAL", "TXID_CURRENT", "SETSEED",
})  # fmt: skip
"""PostgreSQL's volatile functions a default may call: such a default rewrites the table."""
_SERIAL = frozenset({"SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8"})
_SMALL_INT = frozenset({"INT", "INTEGER", "INT4", "SMALLINT", "INT2", "SERIAL", "SERIAL4",
                        "SMALLSERIAL", "SERIAL2"})  # fmt: skip
_NOT_NULL_CHECK = re.compile(r"\(?\s*(\w+)\s+IS\s+NOT\s+NULL\s*\)?")


def _key(name: str | None) -> str:
    return (name or "").upper()


def _not_null_column(words: tuple[str, ...]) -> str | None:
    text = " ".join(words)
    text = re.sub(r"\s+NOT\s+VALID\s*$", "", text)
    found = _NOT_NULL_CHECK.fullmatch(text.strip())
    return found[1].upper() if found else None


Found = tuple[Item, str]
"""An item and the id of a rule it breaks."""


def judge(
    items: list[Item],
    dialect: str,
    *,
    advice: bool,
    earlier: Callable[[], Iterable[Change]],
) -> list[Found]:
    """The rules ``items`` (one migration's changes, in order) break on ``dialect``.
    ``earlier`` gives the changes of the migrations before it (asked only when a rule needs
    them: a NOT NULL set through a check validated in an earlier migration)."""
    found: list[Found] = []
    created = {_key(i.change.table) for i in items if i.change.kind == "create_table"}
    facts = Facts()
    added_in_transaction: set[str] = set()
    session_online = False  # MariaDB: SET SESSION alter_algorithm = 'INSTANT' (or INPLACE)
    looked_back = False
    for item in items:
        change = item.change
        existing = _key(change.table) not in created
        ids: list[str] = []
        if dialect == "postgresql":
            ids += _postgresql(item, existing=existing, added=added_in_transaction)
            if change.kind == "set_not_null" and existing:
                key = (_key(change.table), _key(change.column))
                if key not in facts.not_null_checks and not looked_back:
                    looked_back = True
                    history = Facts()
                    for before in earlier():
                        history.learn(before)
                    facts.not_null_checks |= history.not_null_checks
                if key not in facts.not_null_checks:
                    ids.append("M107")
            if advice:
                ids += _advice(change)
        elif dialect in ("mysql", "mariadb") and existing:
            ids += _mysql(item, session_online=session_online)
        if change.kind == "alter_algorithm":
            session_online = (change.name or "").upper() in ("INSTANT", "INPLACE", "NOCOPY")
        if dialect != "sqlite" and existing:
            ids += _compat(item)
            if change.kind == "drop_constraint" and _key(change.name) not in facts.helpers:
                ids.append("M307")
        if change.kind == "transaction" and dialect != "sqlite":
            ids.append("M113")
        if change.kind == "drop_database" and dialect != "sqlite":
            ids.append("M114")
        facts.learn(change)
        adds = change.kind in ("add_check", "add_foreign_key") and "NOT_VALID" in change.flags
        if adds and not item.autocommit:
            added_in_transaction.add(_key(change.name))
        found += [(item, rule_id) for rule_id in dict.fromkeys(ids)
                  if dialect in RULES[rule_id].dialects
                  and (advice or RULES[rule_id].group != "advice")]  # fmt: skip
    return found


def _postgresql(item: Item, *, existing: bool, added: set[str]) -> list[str]:
    change, ids = item.change, []
    kind, flags = change.kind, change.flags
    concurrently = "CONCURRENTLY" in flags
    if kind in ("create_index", "drop_index"):
        if concurrently and not item.autocommit:
            ids.append("M103")
        elif concurrently and "IF_EXISTS" not in flags:
            ids.append("M112")
        elif not concurrently and (existing or kind == "drop_index"):
            ids.append("M101" if kind == "create_index" else "M102")
    if not existing:
        return ids
    if kind == "add_foreign_key" and "NOT_VALID" not in flags:
        ids.append("M104")
    elif kind == "add_check" and "NOT_VALID" not in flags:
        ids.append("M105")
    elif kind == "validate" and not item.autocommit and _key(change.name) in added:
        ids.append("M106")
    elif kind == "add_unique" and "USING_INDEX" not in flags:
        ids.append("M110")
    elif kind == "add_primary_key" and "USING_INDEX" not in flags:
        ids.append("M111")
    elif kind == "alter_type" and not _widens(item.operation):
        ids.append("M109")
    elif kind == "add_column":
        if _volatile_default(change.words) or "GENERATED" in flags:
            ids.append("M108")
        if "PRIMARY_KEY" in flags:
            ids.append("M111")
        if "REFERENCES" in flags:
            ids.append("M104")
        if "UNIQUE" in flags:
            ids.append("M110")
        if "CHECK" in flags:
            ids.append("M105")
    return ids


def _volatile_default(words: tuple[str, ...]) -> bool:
    if any(word in _SERIAL for word in words[:1]):
        return True
    if "DEFAULT" not in words:
        return False
    after = words[words.index("DEFAULT") + 1 :]
    return any(
        word in VOLATILE and index + 1 < len(after) and after[index + 1] == "("
        for index, word in enumerate(after)
    )


def _widens(operation: Any) -> bool:
    """An ``alter_column`` whose new type holds every old value without a rewrite (a longer
    VARCHAR, VARCHAR to TEXT)."""
    old = getattr(operation, "existing_type", None)
    new = getattr(operation, "modify_type", None)
    if not isinstance(old, String) or not isinstance(new, String):
        return False
    if isinstance(new, Text) or new.length is None:
        return type(old) in (String, Text) or old.length is not None
    return old.length is not None and new.length >= old.length and not isinstance(old, Text)


def _mysql(item: Item, *, session_online: bool) -> list[str]:
    change, ids = item.change, []
    if change.kind == "add_foreign_key" or "REFERENCES" in change.flags:
        return ["M403"]  # in place only with foreign_key_checks=0: ALGORITHM is no help
    changes_type = change.kind == "alter_type" or (
        change.kind == "modify_column" and getattr(item.operation, "modify_type", None) is not None
    )
    if changes_type and not _widens(item.operation):
        ids.append("M402")
    online = "ONLINE" in change.flags or session_online
    if not online and change.kind in (
        "create_index", "drop_index", "add_column", "add_check",
        "add_unique", "add_primary_key", "modify_column", "drop_column", "alter_type",
        "set_not_null",
    ):  # fmt: skip
        ids.append("M401")
    return ids


def _compat(item: Item) -> list[str]:
    change = item.change
    kind = change.kind
    if kind == "drop_column":
        return ["M301"]
    if kind == "drop_table":
        return ["M302"]
    if kind == "rename_column":
        return ["M303"]
    if kind == "rename_table":
        return ["M304"]
    if kind == "drop_not_null":
        return ["M306"]
    required = "NOT_NULL" in change.flags and not {"DEFAULT", "GENERATED"} & change.flags
    if kind == "add_column" and required and not any(w in _SERIAL for w in change.words[:1]):
        return ["M305"]
    return []


def _type_words(change: Change) -> Iterable[tuple[str, ...]]:
    if change.kind == "create_table":
        yield from (words for _name, words in change.columns)
    elif change.kind in ("add_column", "alter_type"):
        yield change.words


def _advice(change: Change) -> list[str]:
    ids = []
    for words in _type_words(change):
        first = words[0] if words else ""
        if first in ("CHAR", "CHARACTER", "BPCHAR") and words[1:2] != ("VARYING",):
            ids.append("M201")
        if first in _SMALL_INT:
            ids.append("M202")
        varchar = first == "VARCHAR" or words[:2] == ("CHARACTER", "VARYING")
        if varchar and "(" in words[:3]:
            ids.append("M203")
        if first == "TIMESTAMP" and words[1:3] != ("WITH", "TIME"):
            ids.append("M204")
        if first in _SERIAL:
            ids.append("M205")
        if first == "JSON":
            ids.append("M206")
    return ids
