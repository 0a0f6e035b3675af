"""Several databases ([tool.manage.databases.NAME], --database); migrations folders per dialect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Project

ANALYTICS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
"""

LEGACY = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200))
"""


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def versions(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return {
                row[0] for row in connection.exec_driver_sql(f"SELECT version_num FROM {table}")
            }
    finally:
        engine.dispose()


@pytest.fixture
def three(
    make_project: object, fresh_database: object, tmp_path: Path
) -> tuple[Project, dict[str, str]]:
    """The shop on SQLite, analytics on PostgreSQL, legacy on MariaDB: one project."""
    project: Project = make_project("sqlite")  # type: ignore[operator]
    urls = {
        "default": project.database_url,
        "analytics": fresh_database("postgresql", tmp_path),  # type: ignore[operator]
        "legacy": fresh_database("mariadb", tmp_path),  # type: ignore[operator]
    }
    project.write("shop/analytics.py", ANALYTICS)
    project.write("shop/legacy.py", LEGACY)
    project.write(
        "pyproject.toml",
        f"""
        [tool.manage.databases.default]
        models = "shop.models:Base"
        migrations = "migrations/default"

        [tool.manage.databases.analytics]
        models = "shop.analytics:Base"
        database_url = "{urls["analytics"]}"
        migrations = "migrations/analytics"
        version_table = "analytics_version"

        [tool.manage.databases.legacy]
        models = "shop.legacy:Base"
        migrations = "migrations/legacy"
        """,
    )
    os.environ["LEGACY_DATABASE_URL"] = urls["legacy"]  # <NAME>_DATABASE_URL
    return project, urls


def test_every_command_covers_every_database_in_declared_order(
    three: tuple[Project, dict[str, str]],
) -> None:
    project, urls = three

    checked = project.run("makemigrations", "--check")
    assert checked.exit_code == 1, checked.output
    assert checked.stdout.splitlines() == [
        "Database default:",
        "Model changes without a migration:",
        "    + Create table author",
        "    + Create table book",
        "Run 'manage makemigrations' to write migrations/default/0001_initial.py.",
        "Database analytics:",
        "Model changes without a migration:",
        "    + Create table event",
        "Run 'manage makemigrations' to write migrations/analytics/0001_initial.py.",
        "Database legacy:",
        "Model changes without a migration:",
        "    + Create table customer",
        "Run 'manage makemigrations' to write migrations/legacy/0001_initial.py.",
    ]
    assert not (project.root / "migrations").exists()

    made = project.run("makemigrations")
    assert made.exit_code == 0, made.output
    for name in ("default", "analytics", "legacy"):
        assert (project.root / "migrations" / name / "0001_initial.py").is_file()

    migrated = project.run("migrate")
    assert migrated.exit_code == 0, migrated.output
    assert [
        line for line in migrated.stdout.splitlines() if line.startswith(("Database", "  Applying"))
    ] == [
        "Database default:",
        "  Applying 0001_initial... OK",
        "Database analytics:",
        "  Applying 0001_initial... OK",
        "Database legacy:",
        "  Applying 0001_initial... OK",
    ]
    assert {"author", "book"} <= tables(urls["default"])
    assert tables(urls["analytics"]) == {"event", "analytics_version", "manage_migration_history"}
    assert {"customer", "alembic_version"} <= tables(urls["legacy"])
    assert "event" not in tables(urls["default"]) | tables(urls["legacy"])
    assert versions(urls["analytics"], "analytics_version") == {"0001_initial"}

    shown = project.run("showmigrations")
    assert shown.stdout.splitlines() == [
        "Database default:",
        " [X] 0001_initial (head)",
        "Database analytics:",
        " [X] 0001_initial (head)",
        "Database legacy:",
        " [X] 0001_initial (head)",
    ]
    import json

    as_json = json.loads(project.run("showmigrations", "--json").stdout)
    assert {name: [m["id"] for m in rows] for name, rows in as_json.items()} == {
        "default": ["0001_initial"],
        "analytics": ["0001_initial"],
        "legacy": ["0001_initial"],
    }
    hook = project.subprocess("makemigrations", "--check")  # the pre-commit hook's command
    assert hook.returncode == 0, hook.stderr
    assert hook.stdout.count("No changes detected") == 3
    checked = project.run("check", "--database")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.count("System check identified no issues.") == 3

    project.edit("shop/analytics.py", "String(50))\n", "String(50))\n    at: Mapped[int | None]\n")
    pending = project.subprocess("makemigrations", "--check")
    assert pending.returncode == 1, pending.stderr
    assert "    + Add column at to event" in pending.stdout.splitlines()


def test_database_picks_one_database_for_every_command(
    three: tuple[Project, dict[str, str]],
) -> None:
    project, urls = three
    assert project.run("makemigrations").exit_code == 0

    migrated = project.run("--database", "analytics", "migrate")

    assert migrated.exit_code == 0, migrated.output
    assert "Database" not in migrated.stdout
    assert "event" in tables(urls["analytics"])
    assert not Path(sa.engine.make_url(urls["default"]).database or "").exists()
    shown = project.run("--database", "analytics", "showmigrations")
    assert shown.stdout.splitlines() == [" [X] 0001_initial (head)"]
    sql = project.run("--database", "legacy", "sqlmigrate", "0001")
    assert "CREATE TABLE customer" in sql.stdout
    zero = project.run("--database", "analytics", "migrate", "zero")
    assert zero.exit_code == 0, zero.output
    assert "event" not in tables(urls["analytics"])
    shell = project.run("--database", "legacy", "shell", "-c", "print(sorted(metadata.tables))")
    assert shell.stdout == "['customer']\n"


@pytest.mark.parametrize(
    ("args", "table", "message"),
    [
        (
            ["--database", "nope", "migrate"],
            None,
            "Error: No database 'nope' in pyproject.toml [tool.manage]: its databases are "
            "default, analytics. Pass one of them to --database.\n",
        ),
        (
            ["--database-url", "sqlite:///x.sqlite3", "migrate"],
            None,
            "Error: --database-url with several databases (default, analytics) could mean any "
            "of them. Add --database NAME to say which.\n",
        ),
        (
            ["showmigrations"],
            'models = "shop.models:Base"\n',
            "[tool.manage] in {pyproject} sets 'models' beside [tool.manage.databases]",
        ),
        (
            ["showmigrations"],
            '[tool.manage.databases.extra]\nmodel = "shop.models:Base"\n',
            "Unknown setting 'model' in [tool.manage.databases.extra] ({pyproject}). Did you "
            "mean 'models'?",
        ),
    ],
)
def test_bad_database_settings_are_exit_3_and_write_nothing(
    sqlite_project: Project, args: list[str], table: str | None, message: str
) -> None:
    project = sqlite_project
    project.write("shop/analytics.py", ANALYTICS)
    text = (
        '[tool.manage.databases.default]\nmodels = "shop.models:Base"\n\n'
        '[tool.manage.databases.analytics]\nmodels = "shop.analytics:Base"\n'
        'database_url = "sqlite:///analytics.sqlite3"\n'
    )
    if table is not None:
        text = (table + "\n" + text) if table.startswith("models") else (text + "\n" + table)
        if table.startswith("models"):
            text = "[tool.manage]\n" + text
    project.write("pyproject.toml", text)
    before = project.files()

    result = project.run(*args)

    assert result.exit_code == 3, result.output
    expected = message.format(pyproject=project.root / "pyproject.toml")
    assert expected in result.stderr
    assert project.files() == before
    assert not list(project.root.glob("*.sqlite3"))


def test_database_on_a_one_database_project(sqlite_project: Project) -> None:
    assert sqlite_project.run("--database", "default", "makemigrations").exit_code == 0

    result = sqlite_project.run("--database", "analytics", "migrate")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: No database 'analytics': the project has one database ('default'). Declare "
        "several as [tool.manage.databases.NAME] tables in pyproject.toml.\n"
    )


def test_databases_in_a_settings_module(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write("shop/analytics.py", ANALYTICS)
    project.write(
        "shop/settings.py",
        """
        DATABASES = {
            "default": {"MODELS": "shop.models:Base"},
            "analytics": {
                "MODELS": "shop.analytics:Base",
                "DATABASE_URL": "sqlite:///analytics.sqlite3",
                "MIGRATIONS": "analytics_migrations",
            },
        }
        """,
    )

    made = project.run("--settings", "shop.settings", "makemigrations")
    migrated = project.run("--settings", "shop.settings", "migrate")

    assert made.exit_code == 0, made.output
    assert migrated.exit_code == 0, migrated.output
    assert (project.root / "analytics_migrations" / "0001_initial.py").is_file()
    assert tables(f"sqlite:///{project.root / 'analytics.sqlite3'}") >= {"event"}
    assert tables(project.database_url) >= {"author", "book"}


PER_DIALECT = (
    'migrations = { sqlite = "migrations/sqlite", postgresql = "migrations/postgresql" }\n'
)


def test_migrations_per_dialect_follow_the_url_in_effect(
    sqlite_project: Project, fresh_database: object, tmp_path: Path
) -> None:
    project = sqlite_project
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text() + PER_DIALECT)
    pg = fresh_database("postgresql", tmp_path)  # type: ignore[operator]

    on_sqlite = project.run("makemigrations")
    on_postgresql = project.run("--database-url", pg, "makemigrations", "-n", "pg_initial")

    assert on_sqlite.exit_code == 0, on_sqlite.output
    assert "  migrations/sqlite/0001_initial.py" in on_sqlite.stdout.splitlines()
    assert on_postgresql.exit_code == 0, on_postgresql.output
    assert "  migrations/postgresql/0001_pg_initial.py" in on_postgresql.stdout.splitlines()
    assert project.run("--database-url", pg, "migrate").exit_code == 0
    shown = project.run("--database-url", pg, "showmigrations")
    assert shown.stdout.splitlines() == [" [X] 0001_pg_initial (head)"]
    assert project.run("showmigrations").stdout.splitlines() == [" [ ] 0001_initial (head)"]


def test_a_settings_module_with_migrations_per_dialect_follows_database_url(
    sqlite_project: Project, fresh_database: object, tmp_path: Path
) -> None:
    """Issue 13: a settings module choosing from DATABASE_URL listed the SQLite history for a
    PostgreSQL URL given with --database-url; MIGRATIONS per dialect is chosen after it."""
    project = sqlite_project
    project.write(
        "shop/settings.py",
        """
        MODELS = "shop.models:Base"
        MIGRATIONS = {"sqlite": "migrations/sqlite", "postgresql": "migrations/postgresql"}
        """,
    )
    project.write("migrations/postgresql/0001_pg.py", PG_ONLY)
    pg = fresh_database("postgresql", tmp_path)  # type: ignore[operator]

    result = project.run("--settings", "shop.settings", "--database-url", pg, "showmigrations")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [" [ ] 0001_pg (head)"]


PG_ONLY = """
from alembic import op

revision = "0001_pg"
down_revision = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


def downgrade() -> None:
    pass
"""


def test_migrations_per_dialect_without_the_dialect_in_effect(
    sqlite_project: Project, fresh_database: object, tmp_path: Path
) -> None:
    project = sqlite_project
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text() + 'migrations = { postgresql = "migrations/postgresql" }\n')

    result = project.run("makemigrations")

    assert result.exit_code == 3, result.output
    assert result.stderr == (
        "Error: migrations (pyproject.toml [tool.manage]) names no folder for sqlite, the dialect "
        f'of {project.database_url}. Add sqlite = "migrations/sqlite" (or default = ...) to it.\n'
    )
    assert not (project.root / "migrations").exists()


VIEWS_PLUGIN = '''
"""Views as Alembic operations and an autogenerate plugin, the way alembic-utils does it."""

import sys

from alembic.autogenerate import renderers
from alembic.operations import Operations, ops
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import inspect

VIEWS = {"book_titles": "SELECT title FROM book"}


@Operations.register_operation("create_view")
class CreateViewOp(ops.MigrateOperation):
    def __init__(self, name, sql):
        self.name, self.sql = name, sql

    @classmethod
    def create_view(cls, operations, name, sql):
        return operations.invoke(cls(name, sql))

    def reverse(self):
        return DropViewOp(self.name, self.sql)


@Operations.register_operation("drop_view")
class DropViewOp(ops.MigrateOperation):
    def __init__(self, name, sql):
        self.name, self.sql = name, sql

    @classmethod
    def drop_view(cls, operations, name, sql):
        return operations.invoke(cls(name, sql))

    def reverse(self):
        return CreateViewOp(self.name, self.sql)


@Operations.implementation_for(CreateViewOp)
def _create(operations, op):
    operations.execute(f"CREATE VIEW {op.name} AS {op.sql}")


@Operations.implementation_for(DropViewOp)
def _drop(operations, op):
    operations.execute(f"DROP VIEW {op.name}")


@renderers.dispatch_for(CreateViewOp)
def _render_create(autogen_context, op):
    return f"op.create_view({op.name!r}, {op.sql!r})"


@renderers.dispatch_for(DropViewOp)
def _render_drop(autogen_context, op):
    return f"op.drop_view({op.name!r}, {op.sql!r})"


def compare_views(autogen_context, upgrade_ops):
    have = set(inspect(autogen_context.connection).get_view_names())
    for name, sql in VIEWS.items():
        if name not in have:
            upgrade_ops.ops.append(CreateViewOp(name, sql))
    return PriorityDispatchResult.CONTINUE


def setup(plugin):
    plugin.add_autogenerate_comparator(
        compare_views, "autogenerate", priority=DispatchPriority.LAST
    )


try:
    Plugin.setup_plugin_from_module(sys.modules[__name__], "shop_views")
except ValueError:  # registered by an earlier import in this process
    pass
'''


PLUGINS = 'autogenerate_plugins = ["alembic.autogenerate.*", "shop_views"]\n'


def test_autogenerate_plugins_pass_through_and_the_check_falls_back_with_a_notice(
    sqlite_project: Project,
) -> None:
    pytest.importorskip("alembic.runtime.plugins", reason="Alembic 1.18+ has the plugin system")
    project = sqlite_project
    project.write("shop/views_plugin.py", VIEWS_PLUGIN)
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text() + 'import = ["shop.views_plugin"]\n' + PLUGINS)
    made = project.run("makemigrations")
    assert made.exit_code == 0, made.output
    initial = (project.root / "migrations" / "0001_initial.py").read_text()
    assert 'op.create_view("book_titles", "SELECT title FROM book")' in initial
    assert project.run("migrate").exit_code == 0
    assert "book_titles" in sa.inspect(project.engine()).get_view_names()
    notice = (
        "The autogenerate plugin 'shop_views' may compare what only a database holds; comparing "
        "against a shadow database instead."
    )
    in_sync = project.run("makemigrations", "--check")
    assert in_sync.exit_code == 0, in_sync.output
    assert in_sync.stderr.splitlines() == [notice]
    project.edit(
        "shop/views_plugin.py",
        'VIEWS = {"book_titles": "SELECT title FROM book"}',
        'VIEWS = {"book_titles": "SELECT title FROM book", "names": "SELECT name FROM author"}',
    )

    # A new process: the plugin registered by this one still holds the old VIEWS.
    checked = project.subprocess("makemigrations", "--check")

    assert checked.returncode == 1, checked.stderr
    assert checked.stderr.splitlines() == [notice]
    assert checked.stdout.splitlines()[0] == "Model changes without a migration:"
    written = project.subprocess("makemigrations", "-n", "names")
    assert written.returncode == 0, written.stderr
    text = (project.root / "migrations" / "0002_names.py").read_text()
    assert 'op.create_view("names", "SELECT name FROM author")' in text
    assert 'op.drop_view("names", "SELECT name FROM author")' in text

    # Without the plugin, the in-memory replay meets op.create_view, which it does not model:
    # it says so and compares against a shadow database (where the views replay).
    path.write_text(path.read_text().replace(PLUGINS, ""))
    fallback = project.subprocess("makemigrations", "--check")
    assert fallback.returncode == 0, fallback.stderr
    assert fallback.stderr == (
        "Migration 0001_initial runs CreateView, whose effect on the schema cannot be known "
        "without a database; comparing against a shadow database instead.\n"
    )


def test_makemigrations_empty_with_several_databases_asks_which(
    three: tuple[Project, dict[str, str]],
) -> None:
    project, _urls = three

    result = project.run("makemigrations", "--empty")

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: makemigrations --empty writes one migration, and the project has several "
        "databases (default, analytics, legacy). Add --database NAME before the command to say "
        "which.\n"
    )
    assert not (project.root / "migrations").exists()
    made = project.run("--database", "legacy", "makemigrations", "--empty", "-n", "by_hand")
    assert made.exit_code == 0, made.output
    assert (project.root / "migrations" / "legacy" / "0001_by_hand.py").is_file()
