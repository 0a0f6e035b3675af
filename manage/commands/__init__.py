"""The commands as plain functions: each takes Settings and returns data; the CLI only prints."""

from manage.commands.check import CheckItem, CheckResult, check
from manage.commands.makemigrations import MakeMigrationsResult, makemigrations
from manage.commands.migrate import MigrateResult, migrate
from manage.commands.showmigrations import MigrationState, ShowMigrationsResult, showmigrations

__all__ = [
    "CheckItem",
    "CheckResult",
    "MakeMigrationsResult",
    "MigrateResult",
    "MigrationState",
    "ShowMigrationsResult",
    "check",
    "makemigrations",
    "migrate",
    "showmigrations",
]
