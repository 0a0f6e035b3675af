"""List the migrations and which of them the database has applied (Django's ``showmigrations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from manage.core.database import connect, database_exists
from manage.core.drivers import on_driver
from manage.core.history import HistoryEntry, checksum, last_applied
from manage.core.history import read as read_history
from manage.core.migrations.environment import MigrationEnvironment
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
    applied_at: datetime | None = None
    """When the history table last saw it applied (UTC); None before manage kept history."""
    applied_by: str | None = None
    """``user@host`` of that run."""
    duration_ms: int | None = None
    faked: bool = False
    """The history saw it recorded with ``--fake`` (or ``--fake-initial``), not run."""
    checksum_applied: str | None = None
    """sha256 of the file as it was applied."""
    checksum_now: str | None = None
    """sha256 of the file now (only computed for applied migrations with a recorded one)."""

    @property
    def missing(self) -> bool:
        return self.path is None

    @property
    def edited(self) -> bool:
        """The file changed after it was applied: the database may not match it."""
        return bool(self.checksum_applied and self.checksum_now != self.checksum_applied)

    def edited_warning(self, project_root: Path) -> str:
        """The warning ``showmigrations`` and ``check`` give for an edited migration."""
        from manage.light.render import edited_warning

        path = self.path.relative_to(project_root) if self.path else self.id
        return edited_warning(self.id, path, self.checksum_applied, self.checksum_now)


@dataclass(frozen=True, slots=True)
class ShowMigrationsResult:
    migrations: tuple[MigrationState, ...]
    """Oldest first; revisions missing on disk come last."""
    migrations_dir: Path


@on_driver
def showmigrations(settings: Settings) -> ShowMigrationsResult:
    """Every migration in order, applied or not; a recorded revision missing on disk is listed too.

    A SQLite database that does not exist yet counts as empty and is not created.
    """
    env = MigrationEnvironment(settings)
    history = env.history()
    current: tuple[str, ...] = ()
    recorded: dict[str, HistoryEntry] = {}
    if database_exists(settings.database_url):
        with connect(settings.database_url) as connection:
            current = env.current(connection)
            if current:
                recorded = last_applied(read_history(connection, settings.version_table))
                connection.rollback()
    applied = env.applied(current)
    unknown = env.unknown(current)
    states = []
    for r in history:
        entry = recorded.get(r.id) if r.id in applied else None
        # A squashed migration's file was rewritten after it was applied: no edit to report.
        squashed = entry is not None and r.id in _squashed(env, r.id)
        states.append(
            MigrationState(
                r.id,
                True if r.id in applied else (None if unknown else False),
                r.is_head,
                r.message,
                r.down_revisions,
                r.path,
                applied_at=entry.started_at if entry else None,
                applied_by=f"{entry.username}@{entry.host}" if entry else None,
                duration_ms=entry.duration_ms if entry else None,
                faked=bool(entry and entry.direction.startswith("fake")),
                checksum_applied=entry.checksum if entry and not squashed else None,
                checksum_now=checksum(r.path)
                if entry and entry.checksum and not squashed
                else None,
            )
        )
    states += [MigrationState(rev, True, False, "", (), None) for rev in unknown]
    return ShowMigrationsResult(tuple(states), settings.migrations_dir)


def _squashed(env: MigrationEnvironment, revision: str) -> tuple[str, ...]:
    """The ids a squashed migration declares it ``replaces``: its file was rewritten by
    squashmigrations after it was applied, so its checksum no longer tells of an edit."""
    script = env.script.get_revision(revision)
    return tuple(getattr(script.module, "replaces", None) or ()) if script else ()
