"""Apply or unapply migrations (Django's ``migrate``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from manage.core.database import connect, database_exists
from manage.core.environment import BASE, MigrationEnvironment, Step
from manage.core.settings import Settings


@dataclass(frozen=True, slots=True)
class MigrateResult:
    """The steps of a migrate run, and whether they ran."""

    target: str
    """The resolved target revision id, or ``zero``."""
    steps: tuple[Step, ...]
    executed: bool
    """False for ``plan``, ``check`` and ``sql``."""
    fake: bool = False
    sql: str | None = None


def _ignore(_step: Step) -> None:
    return None


def migrate(
    settings: Settings,
    target: str = "head",
    *,
    fake: bool = False,
    plan: bool = False,
    sql: bool = False,
    check: bool = False,
    on_start: Callable[[Step], None] = _ignore,
    on_done: Callable[[Step], None] = _ignore,
) -> MigrateResult:
    """Bring the database to ``target``: ``head``, a revision id or unique prefix, or ``zero``.

    A target behind the database's current revision unapplies migrations, as in Django.

    Args:
        fake: record the target in the version table without running the migrations.
        plan: only work out the steps.
        sql: return the SQL instead of running it; touches no database. ``target`` may be
            ``FROM:TO``; without FROM the SQL starts from an empty database.
        check: like ``plan``; the caller exits 1 when steps are pending.
        on_start: called before each migration runs.
        on_done: called after each migration has run and been recorded.

    Raises:
        RevisionNotFoundError: unknown target, or the database is at a revision not on disk.
        MultipleHeadsError: ``head`` with a branched history.
        MigrationError: a migration failed.
    """
    env = MigrationEnvironment(settings)
    if sql:
        start, _, end = target.rpartition(":")
        resolved = env.resolve(end or "head")
        text = env.sql(resolved, env.resolve(start) if start else None)
        return MigrateResult(_label(resolved), (), executed=False, sql=text)
    resolved = env.resolve(target)
    if (plan or check) and not database_exists(settings.database_url):
        return MigrateResult(_label(resolved), tuple(env.plan((), resolved)), executed=False)
    with connect(settings.database_url) as connection:
        current = env.current(connection)
        purge = fake and bool(env.unknown(current))
        if purge:
            current = ()
        else:
            env.ensure_known(current)
        steps = tuple(env.plan(current, resolved))
        if plan or check:
            return MigrateResult(_label(resolved), steps, executed=False, fake=fake)
        env.run(
            connection, steps, resolved, fake=fake, purge=purge, on_start=on_start, on_done=on_done
        )
    return MigrateResult(_label(resolved), steps, executed=True, fake=fake)


def _label(resolved: str) -> str:
    return "zero" if resolved == BASE else resolved
