"""Histories as real projects write them (issue 13): hand-written migrations that rely on the
models' naming convention, generated columns, Column objects passed to operations, enum columns
with server defaults, data-only migrations, and the refusal to unapply data."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from tests.conftest import Project

CONVENTION_MODELS = '''
"""Models with a naming convention, as many real projects have."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "idx_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Users(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(100))
    handle: Mapped[str] = mapped_column(sa.String(30), unique=True)


class Posts(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50), index=True)
    editor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
'''

# A third-party history: constraints and indexes created and dropped by the names the
# convention gives them, never spelled out with op.f().
CONVENTION_HISTORY = {
    "0001_initial": '''
"""initial"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(50), nullable=False, index=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("posts")
    op.drop_table("users")
''',
    "0002_conventions": '''
"""conventions"""

import sqlalchemy as sa
from alembic import op

revision = "0002_conventions"
down_revision = "0001_initial"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_email", type_="unique")
        batch_op.add_column(sa.Column("handle", sa.String(30), nullable=False))
        batch_op.create_unique_constraint(None, ["handle"])
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("editor_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(None, "users", ["editor_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_constraint("fk_posts_editor_id_users", type_="foreignkey")
        batch_op.drop_column("editor_id")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_handle", type_="unique")
        batch_op.drop_column("handle")
        batch_op.create_unique_constraint(None, ["email"])
''',
}


def write_history(project: Project, history: dict[str, str], models: str) -> None:
    project.write("shop/models.py", models)
    for revision, text in history.items():
        project.write(f"migrations/{revision}.py", text)


def names(project: Project) -> dict[str, set[str]]:
    """The names of the unique constraints, foreign keys and indexes of users and posts."""
    engine = project.engine()
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            found: dict[str, set[str]] = {}
            for table in ("users", "posts"):
                found[table] = {str(u["name"]) for u in inspector.get_unique_constraints(table)} | {
                    str(f["name"]) for f in inspector.get_foreign_keys(table)
                }
                found[table] |= {
                    str(i["name"])
                    for i in inspector.get_indexes(table)
                    if not i.get("duplicates_constraint")
                    and str(i["name"]) not in found[table]
                    and not (
                        project.dialect == "mariadb" and i["name"] == "fk_posts_editor_id_users"
                    )
                }
            return found
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrate_names_constraints_by_the_models_convention(
    make_project: object, dialect: str
) -> None:
    project: Project = make_project(dialect)  # type: ignore[operator]
    write_history(project, CONVENTION_HISTORY, CONVENTION_MODELS)

    migrated = project.run("migrate")

    assert migrated.exit_code == 0, migrated.output
    assert names(project) == {
        "users": {"uq_users_handle"},
        "posts": {"idx_posts_title", "fk_posts_editor_id_users"},
    }
    check = project.run("makemigrations", "--check")
    assert check.exit_code == 0, check.output
    assert check.stdout == "No changes detected\n"
    assert check.stderr == "", "answered without a database"
    # The shadow database replays the history the same way.
    dry_run = project.run("makemigrations", "--dry-run")
    assert dry_run.exit_code == 0, dry_run.output
    assert "No changes detected" in dry_run.stdout

    back = project.run("migrate", "zero")
    assert back.exit_code == 0, back.output
    assert project.tables() == {"alembic_version"}


def test_sqlmigrate_uses_the_models_convention(sqlite_project: Project) -> None:
    write_history(sqlite_project, CONVENTION_HISTORY, CONVENTION_MODELS)

    shown = sqlite_project.run("sqlmigrate", "0001")

    assert shown.exit_code == 0, shown.output
    assert "CONSTRAINT uq_users_email UNIQUE (email)" in shown.stdout
    assert "CREATE INDEX idx_posts_title ON posts (title);" in shown.stdout


FAILING = '''
"""failing"""

from alembic import op

revision = "0003_failing"
down_revision = "0002_conventions"


def upgrade() -> None:
    op.drop_table("no_such_table")


def downgrade() -> None:
    pass
'''


def test_a_failing_migration_is_named_without_blaming_its_author(sqlite_project: Project) -> None:
    write_history(sqlite_project, CONVENTION_HISTORY, CONVENTION_MODELS)
    sqlite_project.write("migrations/0003_failing.py", FAILING)
    assert sqlite_project.run("migrate", "0002").exit_code == 0

    failed = sqlite_project.run("migrate")

    assert failed.exit_code == 3
    stderr = " ".join(failed.stderr.split())
    assert stderr.startswith(
        "Error: Migration 0003_failing (migrations/0003_failing.py, line 10) failed while "
        'applying op.drop_table("no_such_table"): no such table: no_such_table.'
    ), stderr
    assert stderr.endswith(
        "Its changes were rolled back; the database stays at 0002_conventions. Correct the "
        "cause (the migration file, or the database it runs on), then run migrate again."
    ), stderr
    assert "Fix the migration" not in stderr


COMPUTED_MODELS = '''
"""A generated column."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Line(Base):
    __tablename__ = "line"

    id: Mapped[int] = mapped_column(primary_key=True)
    price: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    total: Mapped[int | None] = mapped_column(sa.Computed("price * quantity", persisted=True))
'''


def test_a_generated_column_is_compared_without_crashing(project: Project) -> None:
    project.write("shop/models.py", COMPUTED_MODELS)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0

    for args in (("makemigrations", "--check"), ("makemigrations", "--dry-run")):
        same = project.run(*args)
        assert same.exit_code == 0, same.output
        assert "No changes detected" in same.stdout

    # Like Alembic: a generated column's expression cannot be altered; it says so and goes on.
    project.edit("shop/models.py", '"price * quantity"', '"price + 1"')
    with pytest.warns(UserWarning, match="Computed default on line.total cannot be modified"):
        changed = project.run("makemigrations", "--check")
    assert changed.exit_code == 0, changed.output


def test_a_column_made_generated_is_compared_without_crashing(sqlite_project: Project) -> None:
    """The database's column is plain, the model's generated (a history written by hand)."""
    sqlite_project.write("shop/models.py", COMPUTED_MODELS)
    sqlite_project.write(
        "migrations/0001_initial.py",
        """
        \"\"\"initial\"\"\"

        import sqlalchemy as sa
        from alembic import op

        revision = "0001_initial"
        down_revision = None


        def upgrade() -> None:
            op.create_table(
                "line",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("price", sa.Integer(), nullable=False),
                sa.Column("quantity", sa.Integer(), nullable=False),
                sa.Column("total", sa.Integer()),
            )


        def downgrade() -> None:
            op.drop_table("line")
        """,
    )
    assert sqlite_project.run("migrate").exit_code == 0
    # As Alembic says: a plain column cannot be made generated by alter_column.
    with pytest.warns(UserWarning, match="Computed default on line.total cannot be modified"):
        result = sqlite_project.run("makemigrations", "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout == "No changes detected\n"


NICKNAME_HISTORY = {
    "0001_initial": '''
"""initial"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None


def upgrade() -> None:
    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table(sa.quoted_name("users", quote=None))
''',
    "0002_nickname": '''
"""nickname"""

import sqlalchemy as sa
from alembic import op

revision = "0002_nickname"
down_revision = "0001_initial"


def upgrade() -> None:
    op.add_column("users", sa.Column("nickname", sa.String(50)))


def downgrade() -> None:
    op.drop_column("users", sa.Column("nickname", sa.String(50)))
''',
}

USERS_MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Users(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str | None] = mapped_column(sa.String(50))
"""


def test_the_data_loss_probe_reads_a_column_object(project: Project) -> None:
    write_history(project, NICKNAME_HISTORY, USERS_MODELS)
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO users (id, nickname) VALUES (1, 'Ann')")
    engine.dispose()

    refused = project.run("migrate", "zero")

    assert refused.exit_code == 3, refused.output
    assert refused.stderr == (
        "Error: Unapplying would delete data:\n"
        "  0002_nickname: drops column users.nickname (has values)\n"
        "  0001_initial: drops table users (has rows)\n"
        "Back it up if you need it, then run again with --allow-data-loss (or answer the "
        "prompt in a terminal).\n"
    )
    assert project.version() == {"0002_nickname"}


STATUS_MODELS = """
import enum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Status(str, enum.Enum):
    draft = "draft"
    published = "published"


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "post"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[Status] = mapped_column(sa.Enum(Status), server_default=Status.draft.value)
"""

# As real histories write it: the models' own enum, and one of its members as the default.
STATUS_HISTORY = {
    "0001_initial": '''
"""initial"""

import sqlalchemy as sa
from alembic import op

from shop.models import Status

revision = "0001_initial"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.Enum(Status), nullable=False, server_default=Status.draft),
    )


def downgrade() -> None:
    op.drop_table("post")
    sa.Enum(name="status").drop(op.get_bind(), checkfirst=True)
''',
}


def test_an_enum_members_server_default_settles(project: Project) -> None:
    write_history(project, STATUS_HISTORY, STATUS_MODELS)
    assert project.run("migrate").exit_code == 0

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert (check.stdout, check.stderr) == ("No changes detected\n", "")
    dry_run = project.run("makemigrations", "--dry-run")
    assert dry_run.exit_code == 0, dry_run.output
    assert "No changes detected" in dry_run.stdout


ORM_STEP = '''
"""backfill"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0003_backfill"
down_revision = "0002_nickname"

users = sa.table("users", sa.column("id", sa.Integer), sa.column("nickname", sa.String))


def upgrade() -> None:
    session = Session(bind=op.get_bind())
    for row in session.execute(sa.select(users.c.id).where(users.c.nickname.is_(None))):
        session.execute(users.update().where(users.c.id == row.id).values(nickname="anon"))


def downgrade() -> None:
    pass
'''


def test_sqlmigrate_of_a_data_step_says_it_has_no_sql_to_show(sqlite_project: Project) -> None:
    write_history(sqlite_project, {**NICKNAME_HISTORY, "0003_backfill": ORM_STEP}, USERS_MODELS)

    shown = sqlite_project.run("sqlmigrate", "0003")

    assert shown.exit_code == 0, shown.output
    assert shown.stdout == (
        "-- 0003_backfill has no SQL to show: its upgrade() runs Python code (e.g. an ORM "
        "session) whose statements depend on the rows; on an empty database it ran none.\n"
    )
    assert not sqlite_project.database_exists(), "the project's database is not touched"


INSTALLED = "venv/lib/python3.11/site-packages/shop_app/migrations"


def test_no_migration_is_written_into_site_packages(sqlite_project: Project) -> None:
    """A settings module found in an installed copy of the project names a migrations folder
    inside site-packages: a migration written there would be lost on the next install."""
    path = sqlite_project.root / "pyproject.toml"
    path.write_text(path.read_text() + f'migrations = "{INSTALLED}"\n')
    (sqlite_project.root / INSTALLED).mkdir(parents=True)
    before = sqlite_project.files()
    site = sqlite_project.root / "venv/lib/python3.11/site-packages"
    said = (
        f"The migrations folder {INSTALLED} is inside an installed package ({site}), where a "
        "migration written now is lost on the next install. Run makemigrations in the "
        "project's source tree (installed with 'pip install -e .'), or point the migrations "
        "setting at the source folder."
    )

    written = sqlite_project.run("makemigrations")

    assert written.exit_code == 3
    assert written.stdout == ""
    assert " ".join(written.stderr.split()) == f"Error: {said}"
    assert sqlite_project.files() == before

    checked = sqlite_project.run("makemigrations", "--check")

    assert checked.exit_code == 1
    assert checked.stdout.splitlines()[-1] == said


def test_the_shadow_database_is_made_when_the_configured_one_does_not_exist(
    make_project: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MariaDB: a new developer's database does not exist yet; the shadow database is made on
    the same server anyway (the server URL names no database)."""
    project: Project = make_project("mariadb")  # type: ignore[operator]
    url = sa.engine.make_url(project.database_url)
    missing = url.set(database=f"{url.database}_missing").render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", missing)
    history = dict(NICKNAME_HISTORY)
    history["0002_nickname"] = history["0002_nickname"].replace(
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
        'op.execute("ALTER TABLE users ADD COLUMN nickname VARCHAR(50)")',
    )
    write_history(project, history, USERS_MODELS)

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert check.stdout == "No changes detected\n"
    assert check.stderr.endswith("comparing against a shadow database instead.\n")


LOOKS_FIRST = '''
"""initial, idempotent"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table("users"):
        op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))
    columns = {column["name"] for column in sa.inspect(bind).get_columns("users")}
    if "nickname" not in columns:
        op.add_column("users", sa.Column("nickname", sa.String(50)))
    if bind.dialect.name == "postgresql":
        op.execute("COMMENT ON TABLE users IS NULL")


def downgrade() -> None:
    op.drop_table("users")
'''


def test_a_base_revision_that_inspects_op_get_bind_replays_in_memory(project: Project) -> None:
    write_history(project, {"0001_initial": LOOKS_FIRST}, USERS_MODELS)
    assert project.run("migrate").exit_code == 0

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    if project.dialect == "postgresql":  # raw SQL: still needs the shadow database, and says so
        assert check.stderr.endswith("comparing against a shadow database instead.\n")
    else:
        assert check.stderr == "", "answered without a database"
    assert check.stdout == "No changes detected\n"
    project.edit("shop/models.py", "sa.String(50)", "sa.String(80)")
    changed = project.run("makemigrations", "--check")
    assert changed.exit_code == 1, changed.output
    assert "    ~ Alter column nickname on users (type VARCHAR(50) -> VARCHAR(80))" in (
        changed.stdout.splitlines()
    )


def test_a_data_step_replays_without_a_database_on_sqlite(sqlite_project: Project) -> None:
    """Django's RunPython rule, checked: Python code that only reads and writes rows (an ORM
    session on op.get_bind()) runs on an empty SQLite database of the replayed schema that
    refuses anything else, and has no effect on the schema."""
    history = {**NICKNAME_HISTORY, "0003_backfill": ORM_STEP}
    write_history(sqlite_project, history, USERS_MODELS)
    assert sqlite_project.run("migrate").exit_code == 0

    check = sqlite_project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert (check.stdout, check.stderr) == ("No changes detected\n", "")


SCHEMA_THROUGH_BIND = '''
"""index by hand"""

import sqlalchemy as sa
from alembic import op

revision = "0003_index"
down_revision = "0002_nickname"


def upgrade() -> None:
    op.get_bind().execute(sa.text("CREATE INDEX ix_users_nickname ON users (nickname)"))


def downgrade() -> None:
    op.get_bind().execute(sa.text("DROP INDEX ix_users_nickname"))
'''


def test_a_python_step_changing_the_schema_falls_back_with_a_notice(
    sqlite_project: Project,
) -> None:
    models = USERS_MODELS.replace("sa.String(50))", "sa.String(50), index=True)")
    history = {**NICKNAME_HISTORY, "0003_index": SCHEMA_THROUGH_BIND}
    write_history(sqlite_project, history, models)
    assert sqlite_project.run("migrate").exit_code == 0

    check = sqlite_project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert check.stdout == "No changes detected\n"
    assert check.stderr == (
        "Migration 0003_index cannot be replayed without a database: its upgrade() raised "
        "SchemaChangeRefused: its Python code sends 'CREATE INDEX ix_users_nickname ON users "
        "(nickname)' through op.get_bind(), which may change the schema; comparing against a "
        "shadow database instead.\n"
    )


LOWER_EMAIL_MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Users(Base):
    __tablename__ = "users"
    __table_args__ = (sa.Index("ix_users_lower_email", sa.func.lower(sa.text("email"))),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(100))
"""

LOWER_EMAIL_HISTORY = {
    "0001_initial": '''
"""initial"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(100), nullable=False),
    )
    op.create_index("ix_users_lower_email", "users", [sa.text("lower(email)")])
    op.add_column("users", sa.Column("nickname", sa.String(50)))
    op.drop_column("users", "nickname")  # PostgreSQL rebuilds nothing; the index stays


def downgrade() -> None:
    op.drop_table("users")
''',
}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_an_expression_index_replays_in_memory(make_project: object, dialect: str) -> None:
    project: Project = make_project(dialect)  # type: ignore[operator]
    write_history(project, LOWER_EMAIL_HISTORY, LOWER_EMAIL_MODELS)
    assert project.run("migrate").exit_code == 0

    # SQLite reflects no expression index: Alembic skips it there, with or without a database.
    skipped = pytest.warns(UserWarning, match="skipping metadata-specified expression-based")
    with skipped if dialect == "sqlite" else contextlib.nullcontext():
        check = project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert (check.stdout, check.stderr) == ("No changes detected\n", ""), "no database needed"
    if dialect == "postgresql":
        project.edit("shop/models.py", '"ix_users_lower_email", ', '"ix_users_lower_email2", ')
        changed = project.run("makemigrations", "--check")
        assert changed.exit_code == 1, changed.output
        assert changed.stderr == ""


SEEDED = '''
"""seed"""

import sqlalchemy as sa
from alembic import op

revision = "0003_seed"
down_revision = "0002_nickname"


def upgrade() -> None:
    op.execute("INSERT INTO users (id, nickname) VALUES (1, 'admin')")


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE id = 1")
'''

DECIDED_BY_ROWS = '''
"""decided by the seed rows"""

import sqlalchemy as sa
from alembic import op

revision = "0004_flag"
down_revision = "0003_seed"


def upgrade() -> None:
    seeded = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()
    if seeded:
        op.add_column("users", sa.Column("is_admin", sa.Boolean(), nullable=True))


def downgrade() -> None:
    pass
'''


def test_a_schema_change_decided_by_seed_rows_is_checked_against_a_shadow_database(
    sqlite_project: Project,
) -> None:
    """The in-memory replay holds no rows that earlier migrations inserted: a step that reads
    rows may decide otherwise there (here: not to add a column), so the check falls back (on
    SQLite to a shadow database file, still no server) instead of answering wrongly."""
    models = USERS_MODELS + "    is_admin: Mapped[bool | None] = mapped_column(sa.Boolean())\n"
    history = {**NICKNAME_HISTORY, "0003_seed": SEEDED, "0004_flag": DECIDED_BY_ROWS}
    write_history(sqlite_project, history, models)
    assert sqlite_project.run("migrate").exit_code == 0

    check = sqlite_project.run("makemigrations", "--check")

    assert check.exit_code == 0, check.output
    assert check.stdout == "No changes detected\n"
    assert check.stderr == (
        "Migration 0004_flag cannot be replayed without a database: its upgrade() raised "
        "NotLikeTheServer: its Python code reads rows through op.get_bind() after earlier "
        "migrations wrote rows, which the in-memory replay does not hold, so what it does may "
        "depend on them; comparing against a shadow database instead.\n"
    )
