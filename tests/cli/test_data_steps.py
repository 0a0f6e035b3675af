"""Data steps in the database-free check on PostgreSQL and MariaDB (issue 13): a migration whose
Python code reads and writes rows through op.get_bind() replays without a database, with the
answer the shadow database gives; one that may change the schema that way falls back, saying so."""

from __future__ import annotations

import pytest

from tests.cli.test_real_histories import NICKNAME_HISTORY, USERS_MODELS, write_history
from tests.conftest import Project

SERVERS = ["postgresql", "mariadb"]

DATA_STEP = '''
"""backfill nicknames"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

revision = "0003_backfill"
down_revision = "0002_nickname"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str | None] = mapped_column(sa.String(50))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())  # as the project's database answers it
    assert inspector.dialect.name != "sqlite"
    assert "nickname" in {column["name"] for column in inspector.get_columns("users")}
    session = Session(bind=op.get_bind())
    session.add(User(nickname=None))
    session.flush()
    for user in session.scalars(sa.select(User).where(User.nickname.is_(None))):
        user.nickname = f"user{user.id}"
    session.flush()
    op.execute(sa.text("UPDATE users SET nickname = 'anon' WHERE nickname IS NULL"))


def downgrade() -> None:
    pass
'''

EMAIL_STEP = '''
"""email"""

import sqlalchemy as sa
from alembic import op

revision = "0004_email"
down_revision = "0003_backfill"


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(100), nullable=True))
    op.create_index("ix_users_email", "users", ["email"])


def downgrade() -> None:
    op.drop_index("ix_users_email", table_name="users")
    op.drop_column("users", "email")
'''

EMAIL_MODELS = USERS_MODELS + (
    "    email: Mapped[str | None] = mapped_column(sa.String(100), index=True)\n"
)
HISTORY = {**NICKNAME_HISTORY, "0003_backfill": DATA_STEP, "0004_email": EMAIL_STEP}


def server_project(make_project: object, dialect: str, history: dict[str, str]) -> Project:
    project: Project = make_project(dialect)  # type: ignore[operator]
    write_history(project, history, EMAIL_MODELS)
    migrated = project.run("migrate")
    assert migrated.exit_code == 0, migrated.output
    return project


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_data_step_replays_without_a_database(make_project: object, dialect: str) -> None:
    project = server_project(make_project, dialect, HISTORY)

    check = project.run("makemigrations", "--check")
    shadow = project.run("makemigrations", "--dry-run")  # replays into a shadow database

    assert (check.exit_code, check.stdout, check.stderr) == (0, "No changes detected\n", "")
    assert (shadow.exit_code, shadow.stdout) == (0, "No changes detected\n")


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_model_change_after_a_data_step_is_reported_as_the_shadow_database_does(
    make_project: object, dialect: str
) -> None:
    project = server_project(make_project, dialect, HISTORY)
    project.write(
        "shop/models.py",
        EMAIL_MODELS + "    age: Mapped[int | None] = mapped_column(sa.Integer())\n",
    )

    check = project.run("makemigrations", "--check")
    shadow = project.run("makemigrations", "--dry-run")

    assert check.exit_code == 1, check.output
    assert check.stderr == ""
    assert "+ Add column age to users" in check.stdout
    assert shadow.exit_code == 0, shadow.output
    assert changes(check.stdout) == changes(shadow.stdout) == ["+ Add column age to users"]


def changes(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip()[:1] in ("+", "-", "~")]


def with_body(body: str) -> dict[str, str]:
    """HISTORY with a data step whose upgrade() is ``body`` (after reading the rows)."""
    step = DATA_STEP.replace(
        '    op.execute(sa.text("UPDATE users SET nickname',
        body + '\n    op.execute(sa.text("UPDATE users SET nickname',
    )
    return {**HISTORY, "0003_backfill": step}


def fell_back(project: Project) -> str:
    check = project.run("makemigrations", "--check")
    assert check.exit_code == 0, check.output
    assert check.stdout == "No changes detected\n"
    assert check.stderr.endswith("comparing against a shadow database instead.\n")
    return " ".join(check.stderr.split())


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_data_step_sending_ddl_through_the_bind_falls_back_with_a_notice(
    make_project: object, dialect: str
) -> None:
    index = "CREATE INDEX ix_users_nickname ON users (nickname)"
    history = with_body(f'    op.get_bind().execute(sa.text("{index}"))')
    models = EMAIL_MODELS.replace("sa.String(50))", "sa.String(50), index=True)")
    project: Project = make_project(dialect)  # type: ignore[operator]
    write_history(project, history, models)
    assert project.run("migrate").exit_code == 0

    assert fell_back(project) == (
        "Migration 0003_backfill cannot be replayed without a database: its upgrade() raised "
        "SchemaChangeRefused: its Python code sends 'CREATE INDEX ix_users_nickname ON users "
        "(nickname)' through op.get_bind(), which may change the schema; comparing against a "
        "shadow database instead."
    )


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_data_step_creating_a_sequence_through_the_bind_falls_back(
    make_project: object, dialect: str
) -> None:
    """SQLite, standing in for the server, would skip it without a word."""
    history = with_body('    sa.Sequence("nick_seq").create(op.get_bind(), checkfirst=True)')
    project = server_project(make_project, dialect, history)

    assert fell_back(project) == (
        "Migration 0003_backfill cannot be replayed without a database: its upgrade() raised "
        "SchemaChangeRefused: its Python code creates or drops schema objects through "
        "op.get_bind(), which may change the schema; comparing against a shadow database "
        "instead."
    )


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_data_step_reading_the_dialect_falls_back(make_project: object, dialect: str) -> None:
    """SQLite stands in for the server: a step branching on the dialect would take SQLite's way."""
    history = with_body(
        '    if op.get_bind().dialect.name == "sqlite":\n        raise RuntimeError("not here")'
    )
    project = server_project(make_project, dialect, history)

    assert fell_back(project) == (
        "Migration 0003_backfill cannot be replayed without a database: its upgrade() raised "
        "NotLikeTheServer: its Python code reads bind.dialect of op.get_bind(), which in the "
        "in-memory replay is SQLite, not the project's database; comparing against a shadow "
        "database instead."
    )


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_data_step_with_sql_only_the_server_knows_falls_back(
    make_project: object, dialect: str
) -> None:
    function = "now()" if dialect == "postgresql" else "UTC_TIMESTAMP()"
    history = with_body(f'    op.get_bind().execute(sa.text("SELECT {function}")).scalar()')
    project = server_project(make_project, dialect, history)

    assert fell_back(project).startswith(
        "Migration 0003_backfill cannot be replayed without a database: its upgrade() raised "
        "OperationalError"
    )


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_schema_operation_after_the_rows_were_read_falls_back(
    make_project: object, dialect: str
) -> None:
    """What the step does next may depend on SQLite's answers (the rows earlier migrations
    inserted are not in the stand-in): add a column, backfill it, make it NOT NULL."""
    history = with_body(
        '    op.alter_column("users", "nickname", existing_type=sa.String(50), nullable=False)'
    )
    models = EMAIL_MODELS.replace(
        "Mapped[str | None] = mapped_column(sa.String(50))",
        "Mapped[str] = mapped_column(sa.String(50))",
    )
    project: Project = make_project(dialect)  # type: ignore[operator]
    write_history(project, history, models)
    assert project.run("migrate").exit_code == 0

    assert fell_back(project) == (
        "Migration 0003_backfill cannot be replayed without a database: its upgrade() raised "
        "NotLikeTheServer: its Python code issues AlterColumn after sending statements through "
        "op.get_bind(), which in the in-memory replay is SQLite, not the project's database, "
        "so what it does may depend on SQLite's answers; comparing against a shadow database "
        "instead."
    )


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_data_step_that_catches_exceptions_falls_back(make_project: object, dialect: str) -> None:
    """The server may raise where SQLite does not, and the step go on otherwise."""
    step = DATA_STEP.replace(
        "    session.flush()\n    for",
        "    try:\n        session.flush()\n    except sa.exc.DataError:\n        raise\n    for",
    )
    project = server_project(make_project, dialect, {**HISTORY, "0003_backfill": step})

    assert fell_back(project) == (
        "Migration 0003_backfill cannot be replayed without a database: its upgrade() needs "
        "rows from op.get_bind() and catches exceptions, which the project's database may "
        "raise where the in-memory replay's SQLite does not; comparing against a shadow "
        "database instead."
    )
