"""The commands as plain functions: each takes Settings and returns data; the CLI only prints.

This package is the Python API: every command function and every type its results hold are
importable from here. ``manage.core`` is private: its modules change without notice.
"""

from manage.commands.check import CheckItem, CheckResult, check
from manage.commands.dbshell import DbShellResult, dbshell
from manage.commands.init import InitResult, init
from manage.commands.inspectdb import InspectDbResult, inspectdb
from manage.commands.lint import LintResult, lint
from manage.commands.makemigrations import MakeMigrationsResult, makemigrations
from manage.commands.migrate import MigrateResult, migrate
from manage.commands.schema import (
    BlameEntry,
    SchemaBlame,
    SchemaDiagram,
    SchemaDiff,
    SchemaSql,
    schema,
    schema_blame,
    schema_diagram,
    schema_diff,
    schema_sql,
)
from manage.commands.shell import shell
from manage.commands.showmigrations import MigrationState, ShowMigrationsResult, showmigrations
from manage.commands.sqlmigrate import SqlMigrateResult, sqlmigrate
from manage.commands.squashmigrations import SquashResult, squashmigrations
from manage.core.dataloss import DataLoss
from manage.core.lint.engine import Finding, MigrationLint
from manage.core.migrations.types import Step
from manage.core.revisions import Operation

__all__ = [
    "BlameEntry",
    "CheckItem",
    "CheckResult",
    "DataLoss",
    "DbShellResult",
    "Finding",
    "InitResult",
    "InspectDbResult",
    "LintResult",
    "MakeMigrationsResult",
    "MigrateResult",
    "MigrationLint",
    "MigrationState",
    "Operation",
    "SchemaBlame",
    "SchemaDiagram",
    "SchemaDiff",
    "SchemaSql",
    "ShowMigrationsResult",
    "SqlMigrateResult",
    "SquashResult",
    "Step",
    "check",
    "dbshell",
    "init",
    "inspectdb",
    "lint",
    "makemigrations",
    "migrate",
    "schema",
    "schema_blame",
    "schema_diagram",
    "schema_diff",
    "schema_sql",
    "shell",
    "showmigrations",
    "sqlmigrate",
    "squashmigrations",
]
