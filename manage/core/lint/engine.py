"""Lint one migration: record what its upgrade issues (no database), read each operation as the
SQL the project's dialect runs, judge it by the rules, and drop what a comment allows."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.operations import Operations, ops
from alembic.runtime.migration import MigrationContext
from alembic.script import Script

from manage.core.lint.checks import Item, judge
from manage.core.lint.rules import RULES, find_rule
from manage.core.lint.sqlread import Change, read
from manage.core.replay.recorder import Recorded, record
from manage.core.sqlscan import sql_of


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule one operation of a migration breaks."""

    revision: str
    path: Path
    line: int | None
    """The line of the migration file that issues the operation (None: through op.get_bind())."""
    rule: str
    """The rule's id, e.g. ``M101``."""
    name: str
    """The rule's name, e.g. ``require-concurrent-index-creation``."""
    group: str
    """``lock``, ``fails``, ``compat``, ``mysql`` or ``advice``."""
    subject: str
    """The statement, e.g. ``CREATE INDEX ix_book_isbn ON book``."""
    risk: str
    fix: str

    @property
    def message(self) -> str:
        """``SUBJECT: RISK. Fix: FIX.``: the finding's one line."""
        return f"{self.subject}: {self.risk}. Fix: {self.fix}."


@dataclass(frozen=True, slots=True)
class MigrationLint:
    """What the lint found in one migration."""

    revision: str
    path: Path
    findings: tuple[Finding, ...]
    suppressed: int
    """Findings a ``# manage: allow RULE`` comment allowed."""
    unread: str | None = None
    """Why the lint saw only part of the migration (its upgrade needs a database)."""


_ALLOW = re.compile(r"#\s*manage:\s*allow\s+([\w\-]+(?:[\s,]+[\w\-]+)*)", re.IGNORECASE)


def allowed_by_line(text: str) -> dict[int, set[str]]:
    """Line number -> the rule ids a ``# manage: allow M101, M104`` comment allows there (ids or
    names; ``all`` allows every rule): on its own line, and, when the comment is the whole line,
    on the next one too."""
    allowed: dict[int, set[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if found := _ALLOW.search(line):
            ids = set()
            for key in re.split(r"[\s,]+", found[1].strip()):
                rule = find_rule(key)
                if rule is not None:
                    ids.add(rule.id)
                elif key.lower() == "all":
                    ids |= set(RULES)
            allowed.setdefault(number, set()).update(ids)
            if line.lstrip().startswith("#"):
                allowed.setdefault(number + 1, set()).update(ids)
    return allowed


def changes_of(script: Script, dialect: str) -> tuple[list[Item], str | None]:
    """Each schema change ``script``'s upgrade makes, and why it was read only in part."""
    problems: list[str] = []
    recorded = record(script, dialect, where=True, problems=problems)
    context = MigrationContext.configure(
        dialect_name=dialect, opts={"as_sql": True, "output_buffer": io.StringIO(),
                                    "literal_binds": True},
    )  # fmt: skip
    operations = Operations(context)
    items: list[Item] = []
    for entry in recorded:
        items += _items(entry, operations, context)
    return items, problems[0] if problems else None


def _items(entry: Recorded, operations: Operations, context: MigrationContext) -> list[Item]:
    operation = entry.operation
    if isinstance(operation, ops.ExecuteSQLOp):
        sql = sql_of(operation.sqltext, context.dialect)
        source = None
    else:
        sql, source = _render(operation, operations, context), operation
    if not sql:
        return []
    try:
        changes = read(sql)
    except Exception:  # sqlparse gives up on it: nothing to judge
        return []
    return [Item(change, entry.line, entry.autocommit, source) for change in changes]


def _render(operation: Any, operations: Operations, context: MigrationContext) -> str | None:
    """The SQL an Alembic operation runs on the context's dialect (offline)."""
    buffer = context.output_buffer
    assert isinstance(buffer, io.StringIO)
    buffer.seek(0)
    buffer.truncate()
    try:
        operations.invoke(operation)
    except Exception:  # an operation the offline dialect cannot render: nothing to judge
        return None
    return buffer.getvalue()


def lint_script(
    script: Script,
    dialect: str,
    *,
    advice: bool = False,
    earlier: Callable[[], Iterable[Change]] = lambda: (),
) -> MigrationLint:
    """The findings of ``script``'s upgrade on ``dialect``."""
    items, unread = changes_of(script, dialect)
    found = judge(items, dialect, advice=advice, earlier=earlier)
    path = Path(script.path)
    allowed = allowed_by_line(path.read_text(encoding="utf-8"))
    findings: list[Finding] = []
    suppressed = 0
    for item, rule_id in found:
        line = item.line
        if line is not None and rule_id in allowed.get(line, ()):
            suppressed += 1
            continue
        rule = RULES[rule_id]
        findings.append(
            Finding(script.revision, path, line, rule.id, rule.name, rule.group,
                    item.change.subject, rule.risk, rule.fix)
        )  # fmt: skip
    return MigrationLint(script.revision, path, tuple(findings), suppressed, unread)


def lint_revisions(
    env: Any, chosen: Iterable[str], *, advice: bool = False
) -> tuple[MigrationLint, ...]:
    """The lint of each of ``chosen`` (revision ids, oldest first), on the project's dialect."""
    dialect = env.settings.dialect_name
    history = [r.id for r in env.history()]
    seen: dict[str, list[Item]] = {}

    def items(revision: str) -> list[Item]:
        if revision not in seen:
            script = env.script.get_revision(revision)
            seen[revision] = changes_of(script, dialect)[0] if script is not None else []
        return seen[revision]

    def before(revision: str) -> Iterable[Change]:
        for earlier in history[: history.index(revision)]:
            yield from (item.change for item in items(earlier))

    linted = []
    for revision in chosen:
        script = env.script.get_revision(revision)
        assert script is not None
        earlier = functools.partial(before, revision)
        linted.append(lint_script(script, dialect, advice=advice, earlier=earlier))
    return tuple(linted)
