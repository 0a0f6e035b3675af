"""List the migrations and which of them the database has applied (Django's ``showmigrations``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from manage.core.database import connect, database_exists
from manage.core.environment import MigrationEnvironment
from manage.core.settings import Settings


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One migration and whether the database has it."""

    id: str
    applied: bool | None
    """None when unknowable: the database records a revision whose file is missing, and
    Alembic's version table keeps only the latest revision, not the ones below it."""
    head: bool
    message: str
    down_revisions: tuple[str, ...]
    path: Path | None
    """None for a revision recorded in the database whose file is missing."""

    @property
    def missing(self) -> bool:
        return self.path is None


@dataclass(frozen=True, slots=True)
class ShowMigrationsResult:
    migrations: tuple[MigrationState, ...]
    """Oldest first; revisions missing on disk come last."""
    migrations_dir: Path


def showmigrations(settings: Settings) -> ShowMigrationsResult:
    """Every migration in order, applied or not; a recorded revision missing on disk is listed too.

    A SQLite database that does not exist yet counts as empty and is not created.
    """
    env = MigrationEnvironment(settings)
    history = env.history()
    current: tuple[str, ...] = ()
    if database_exists(settings.database_url):
        with connect(settings.database_url) as connection:
            current = env.current(connection)
    applied = env.applied(current)
    unknown = env.unknown(current)
    states = [
        MigrationState(
            r.id,
            True if r.id in applied else (None if unknown else False),
            r.is_head,
            r.message,
            r.down_revisions,
            r.path,
        )
        for r in history
    ]
    states += [MigrationState(rev, True, False, "", (), None) for rev in unknown]
    return ShowMigrationsResult(tuple(states), settings.migrations_dir)
