"""Histories that do not start from an empty database (issue 13): the first migration ALTERs
tables a ``create_all`` of legacy models made. The ``bootstrap`` setting runs that function on an
empty database before the first migration, and on every replay (shadow database and in memory)."""

from __future__ import annotations

import pytest

from tests.conftest import Project

LEGACY = '''
"""The tables the project made with create_all before it used migrations."""

import sqlalchemy as sa

legacy = sa.MetaData()

sa.Table(
    "users",
    legacy,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, index=True),
)


def create_tables(connection: sa.Connection) -> None:
    legacy.create_all(connection)
'''

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Users(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(100))


class Posts(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
"""

FIRST = '''
"""email and posts"""

import sqlalchemy as sa
from alembic import op

revision = "0001_email_and_posts"
down_revision = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(100), nullable=True))
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("posts")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email")
'''

SETTING = 'bootstrap = "shop.legacy:create_tables"\n'


def legacy_project(project: Project, *, setting: bool) -> Project:
    project.write("shop/legacy.py", LEGACY)
    project.write("shop/models.py", MODELS)
    project.write("migrations/0001_email_and_posts.py", FIRST)
    if setting:
        path = project.root / "pyproject.toml"
        path.write_text(path.read_text() + SETTING)
    return project


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_bootstrap_runs_before_the_first_migration_and_on_every_replay(
    make_project: object, dialect: str
) -> None:
    project = legacy_project(make_project(dialect), setting=True)  # type: ignore[operator]

    migrated = project.run("migrate")

    assert migrated.exit_code == 0, migrated.output
    assert project.tables() == {"alembic_version", "users", "posts"}
    assert project.columns("users") == ["id", "name", "email"]
    check = project.run("makemigrations", "--check")
    assert check.exit_code == 0, check.output
    assert (check.stdout, check.stderr) == ("No changes detected\n", ""), "no database needed"
    dry_run = project.run("makemigrations", "--dry-run")  # through a shadow database
    assert dry_run.exit_code == 0, dry_run.output
    assert "No changes detected" in dry_run.stdout
    checked = project.run("check")
    assert checked.exit_code == 0, checked.output

    project.edit("shop/models.py", "sa.String(100)", "sa.String(100), index=True")
    written = project.run("makemigrations", "-n", "email_index")
    assert written.exit_code == 0, written.output
    assert project.migrations()[-1] == "0002_email_index.py"
    assert project.run("migrate").exit_code == 0
    again = project.run("makemigrations", "--check")
    assert (again.exit_code, again.stdout) == (0, "No changes detected\n"), again.output

    # A database whose tables already exist (the legacy one) is not bootstrapped again.
    assert project.run("migrate", "zero").exit_code == 0
    assert project.tables() == {"alembic_version", "users"}
    assert project.run("migrate").exit_code == 0


HINT = (
    "If the history starts from tables made outside it (a create_all of legacy models, or an "
    'older tool), set bootstrap = "package.module:function" in [tool.manage]: a function '
    "taking a Connection that creates them, run on an empty database before the first "
    "migration and on every replay (docs/real-projects.md)."
)


def test_without_bootstrap_the_errors_say_what_to_set(sqlite_project: Project) -> None:
    project = legacy_project(sqlite_project, setting=False)

    migrated = project.run("migrate")

    assert migrated.exit_code == 3
    assert " ".join(migrated.stderr.split()).endswith(HINT), migrated.stderr
    assert project.version() == set()

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 3
    stderr = " ".join(check.stderr.split())
    assert "Replaying the migration history into a shadow database failed" in stderr
    assert stderr.endswith(HINT), stderr

    checked = project.run("check")
    assert checked.exit_code == 1, checked.output
    assert HINT in " ".join(checked.stdout.split())


RAW_SQL = """
import sqlalchemy as sa


def create_tables(connection: sa.Connection) -> None:
    connection.exec_driver_sql(
        "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)"
    )
    connection.exec_driver_sql("CREATE INDEX ix_users_name ON users (name)")
"""


def test_a_bootstrap_running_raw_sql_falls_back_to_a_shadow_database(
    sqlite_project: Project,
) -> None:
    project = legacy_project(sqlite_project, setting=True)
    project.write("shop/legacy.py", RAW_SQL)
    assert project.run("migrate").exit_code == 0

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert check.stdout == "No changes detected\n"
    assert check.stderr.startswith(
        "The bootstrap function 'shop.legacy:create_tables' cannot run without a database "
        "(AttributeError: 'MockConnection' object has no attribute 'exec_driver_sql' ("
    ), check.stderr
    assert check.stderr.endswith("); comparing against a shadow database instead.\n")


def test_a_failing_bootstrap_is_named(sqlite_project: Project) -> None:
    project = legacy_project(sqlite_project, setting=True)
    project.write("shop/legacy.py", "def create_tables(connection):\n    raise ValueError('no')\n")

    migrated = project.run("migrate")

    assert migrated.exit_code == 3
    stderr = " ".join(migrated.stderr.split())
    assert stderr.startswith(
        "Error: The bootstrap function 'shop.legacy:create_tables' failed on an empty database, "
        "before the first migration: ValueError: no ("
    ), stderr
    assert project.tables() == set()


def test_a_bootstrap_that_is_not_a_function_is_refused(sqlite_project: Project) -> None:
    project = legacy_project(sqlite_project, setting=True)
    project.edit("pyproject.toml", "shop.legacy:create_tables", "shop.legacy:legacy")

    migrated = project.run("migrate")

    assert migrated.exit_code == 3
    assert " ".join(migrated.stderr.split()) == (
        "Error: bootstrap = 'shop.legacy:legacy' names a MetaData, not a function. Point it at "
        'a function that takes a Connection, e.g. "shop.legacy:create_tables".'
    )
    assert project.tables() == set()
