"""Lint migrations for operations that lock a busy table or break the running release."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from manage.core.lint.engine import Finding, MigrationLint, lint_revisions
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import BASE
from manage.core.settings import Settings
from manage.errors import UsageError


@dataclass(frozen=True, slots=True)
class LintResult:
    """The findings of each migration linted, oldest first."""

    dialect: str
    migrations: tuple[MigrationLint, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for m in self.migrations for f in m.findings)

    @property
    def suppressed(self) -> int:
        return sum(m.suppressed for m in self.migrations)


def lint(
    settings: Settings,
    revisions: Sequence[str] = (),
    *,
    unapplied: bool = False,
    advice: bool = False,
) -> LintResult:
    """Lint every migration (or those ``revisions`` name) for the project's database.

    Args:
        revisions: migration ids or prefixes, ``head``, or ranges ``FROM:TO`` (FROM excluded;
            either end may be left out: ``0004:`` is every migration after 0004).
        unapplied: only the migrations the database has not applied.
        advice: also the advice rules (M2xx: column types squawk advises against).

    Raises:
        RevisionNotFoundError: a revision matches no migration (or several).
        UsageError: ``zero`` named, or ``unapplied`` with revisions.
    """
    env = MigrationEnvironment(settings)
    history = [r.id for r in env.history()]
    if unapplied and revisions:
        raise UsageError("Give revisions or --unapplied, not both.")
    if unapplied:
        from manage.commands.migrate import migrate

        pending = {s.revision for s in migrate(settings, check=True).steps}
        chosen = [r for r in history if r in pending]
    else:
        chosen = _select(env, history, revisions)
    return LintResult(settings.dialect_name, lint_revisions(env, chosen, advice=advice))


def _select(env: MigrationEnvironment, history: list[str], revisions: Sequence[str]) -> list[str]:
    if not revisions:
        return history
    wanted: set[str] = set()
    for revision in revisions:
        start, colon, end = revision.partition(":")
        if not colon:
            wanted.add(_one(env, revision))
            continue
        first = history.index(_one(env, start)) + 1 if start else 0
        last = history.index(_one(env, end)) + 1 if end else len(history)
        wanted.update(history[first:last])
    return [r for r in history if r in wanted]


def _one(env: MigrationEnvironment, revision: str) -> str:
    if revision == "zero":
        raise UsageError(
            "lint reads migrations; 'zero' is none. Give a migration id or prefix, 'head', or "
            "a range FROM:TO."
        )
    resolved = env.resolve(revision)
    if resolved == BASE:  # 'head' of an empty history
        raise UsageError("There are no migrations to lint yet.")
    return resolved
