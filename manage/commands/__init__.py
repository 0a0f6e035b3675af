"""The commands as plain functions: each takes Settings and returns data; the CLI only prints."""

from manage.commands.check import CheckItem, CheckResult, check
from manage.commands.dbshell import DbShellResult, dbshell
from manage.commands.makemigrations import MakeMigrationsResult, makemigrations
from manage.commands.migrate import MigrateResult, migrate
from manage.commands.showmigrations import MigrationState, ShowMigrationsResult, showmigrations
from manage.commands.sqlmigrate import SqlMigrateResult, sqlmigrate
from manage.commands.squashmigrations import SquashResult, squashmigrations

__all__ = [
    "CheckItem",
    "CheckResult",
    "DbShellResult",
    "MakeMigrationsResult",
    "MigrateResult",
    "MigrationState",
    "ShowMigrationsResult",
    "SqlMigrateResult",
    "SquashResult",
    "check",
    "dbshell",
    "makemigrations",
    "migrate",
    "showmigrations",
    "sqlmigrate",
    "squashmigrations",
]
