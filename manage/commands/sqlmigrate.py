"""Print the SQL of one migration for the project's dialect (Django's ``sqlmigrate``)."""

from __future__ import annotations

from dataclasses import dataclass

from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import BASE
from manage.core.settings import Settings
from manage.errors import RevisionNotFoundError


@dataclass(frozen=True, slots=True)
class SqlMigrateResult:
    """The SQL of one migration, in one direction."""

    revision: str
    backwards: bool
    sql: str
    """Empty when the migration runs no statements (a merge, or an empty migration)."""
    depends_on_data: bool = False
    """The SQL was recorded by running the migration on an empty scratch database (SQLite):
    with ``sql`` empty, its Python code (e.g. an ORM session) ran no statement there, and what
    it runs depends on the rows."""


def sqlmigrate(settings: Settings, revision: str, *, backwards: bool = False) -> SqlMigrateResult:
    """The SQL that ``revision``'s upgrade (``backwards``: downgrade) runs, offline.

    Args:
        revision: a migration id or unique prefix.
        backwards: the SQL that unapplies it.

    Raises:
        RevisionNotFoundError: no (or several) migrations match ``revision``.
        MigrationError: the migration cannot be rendered without a database.
    """
    env = MigrationEnvironment(settings)
    if revision in ("head", "zero"):
        raise RevisionNotFoundError(
            f"sqlmigrate shows one migration; {revision!r} is not one. Give a migration id or "
            "prefix, e.g. 'manage sqlmigrate 0002'.",
            revision,
        )
    from manage.core.offline import migration_sql  # not loaded by migrate

    resolved = env.resolve(revision)
    assert resolved != BASE
    sql, recorded = migration_sql(env, resolved, backwards=backwards)
    return SqlMigrateResult(resolved, backwards, sql, depends_on_data=recorded)
