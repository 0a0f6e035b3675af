"""The project's migration environment: the one class commands use (load, run, autogenerate)."""

from __future__ import annotations

from manage.core.migrations.autogen import Autogenerator


class MigrationEnvironment(Autogenerator):
    """The project's migration history plus the ways to run it: Flask-Alembic's engine, no files.

    Loading and planning come from :class:`~manage.core.migrations.loader.MigrationLoader`,
    running from :class:`~manage.core.migrations.executor.MigrationExecutor`, comparing and
    writing from :class:`~manage.core.migrations.autogen.Autogenerator`.
    """
