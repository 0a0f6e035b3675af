"""makemigrations compares the models with the replayed history, never the development database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Project

TITLE = "    title: Mapped[str] = mapped_column(String(200))\n"
PRICE = TITLE + "    price: Mapped[int | None]\n"
PUBLISHER = """

class Publisher(Base):
    __tablename__ = "publisher"

    id: Mapped[int] = mapped_column(primary_key=True)
"""


def test_a_development_database_ahead_of_the_history_changes_nothing(project: Project) -> None:
    # A branch added book.price and migrated the dev database; back on main, neither the file
    # nor the model exists, but the dev database still has the column and records 0002.
    project.run("makemigrations")
    models = (project.root / "shop/models.py").read_text()
    project.edit("shop/models.py", TITLE, PRICE)
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    (project.root / "migrations/0002_add_book_price.py").unlink()
    (project.root / "shop/models.py").write_text(models)

    result = project.run("makemigrations", "--check")

    assert result.exit_code == 0, result.output
    assert result.stdout == "No changes detected\n"
    assert project.version() == {"0002_add_book_price"}, "the dev database was left alone"


def test_a_development_database_behind_the_history_changes_nothing(project: Project) -> None:
    project.run("makemigrations")
    project.edit("shop/models.py", TITLE, PRICE)
    project.run("makemigrations")
    project.edit(
        "shop/models.py", "class Book(Base):", PUBLISHER.strip() + "\n\n\nclass Book(Base):"
    )

    result = project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "  migrations/0003_create_publisher.py",
        "    + Create table publisher",
    ]
    assert project.tables() == set()


def test_a_missing_server_database_is_neither_needed_nor_created(
    make_project: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    missing = make_url(project.database_url).set(database="manage_no_such_database")
    monkeypatch.setenv("DATABASE_URL", missing.render_as_string(hide_password=False))

    result = project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert project.migrations() == ["0001_initial.py"]


def test_no_changes_writes_no_empty_migration(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0
    assert result.stdout == "No changes detected\n"
    assert sqlite_project.migrations() == ["0001_initial.py"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (TITLE, PRICE, "0002_add_book_price"),
        (
            TITLE,
            PRICE + "    isbn: Mapped[str | None] = mapped_column(String(13))\n",
            "0002_add_book_price_isbn",
        ),
        (TITLE, "", "0002_remove_book_title"),
        (
            "mapped_column(String(200))",
            "mapped_column(String(300))",
            "0002_alter_book_title",
        ),
        (
            "class Book(Base):",
            PUBLISHER.strip() + "\n\n\nclass Book(Base):",
            "0002_create_publisher",
        ),
        (
            TITLE,
            TITLE
            + "    subtitle_for_catalogue: Mapped[str | None]\n"
            + "    description_for_catalogue: Mapped[str | None]\n",
            "0002_auto_",
        ),
    ],
    ids=["add", "add-two", "remove", "alter", "create", "many"],
)
def test_names_are_derived_from_the_operations(
    sqlite_project: Project, old: str, new: str, expected: str
) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.edit("shop/models.py", old, new)

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    written = sqlite_project.migrations()[-1]
    assert written.startswith(expected), written
    if expected.endswith("auto_"):
        assert re.fullmatch(r"0002_auto_\d{8}_\d{4}\.py", written)
    assert len(written.removesuffix(".py")) <= 32


def test_dropping_a_table_is_named_delete(sqlite_project: Project) -> None:
    sqlite_project.write(
        "shop/models.py",
        """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Author(Base):
            __tablename__ = "author"
            id: Mapped[int] = mapped_column(primary_key=True)


        class Book(Base):
            __tablename__ = "book"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    )
    sqlite_project.run("makemigrations")
    sqlite_project.edit("shop/models.py", 'class Book(Base):\n    __tablename__ = "book"', "")
    sqlite_project.edit(
        "shop/models.py", "    id: Mapped[int] = mapped_column(primary_key=True)\n\n", ""
    )

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "  migrations/0002_delete_book.py",
        "    - Drop table book",
        "  ! Drop table book (destructive: its rows are lost)",
    ]


def test_empty_writes_a_migration_to_fill_in(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("makemigrations", "--empty", "-n", "load_fixtures")

    assert result.exit_code == 0, result.output
    path = sqlite_project.root / "migrations/0002_load_fixtures.py"
    text = path.read_text()
    assert 'down_revision: str | Sequence[str] | None = "0001_initial"' in text
    assert "def upgrade() -> None:\n    pass" in text
    assert sqlite_project.run("migrate").exit_code == 0
    assert sqlite_project.version() == {"0002_load_fixtures"}


def test_dry_run_writes_nothing_and_shows_the_file_at_verbosity_3(sqlite_project: Project) -> None:
    before = sqlite_project.files()

    plain = sqlite_project.run("makemigrations", "--dry-run")
    verbose = sqlite_project.run("-v", "3", "makemigrations", "--dry-run")

    assert plain.exit_code == 0, plain.output
    assert plain.stdout.splitlines() == [
        "Migrations (dry run, nothing written):",
        "  migrations/0001_initial.py",
        "    + Create table author",
        "    + Create table book",
    ]
    assert 'op.create_table(\n        "author",' in verbose.stdout
    assert 'revision: str = "0001_initial"' in verbose.stdout
    assert sqlite_project.files() == before
    assert not (sqlite_project.root / "migrations").exists()


LEGACY_MIGRATION = '''
"""A table that the models do not own."""

import sqlalchemy as sa
from alembic import op

revision = "0002_legacy"
down_revision = "0001_initial"


def upgrade() -> None:
    op.create_table("legacy_orders", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("legacy_orders")
'''


def test_tables_the_models_do_not_own_can_be_excluded(project: Project) -> None:
    project.run("makemigrations")
    project.write("migrations/0002_legacy.py", LEGACY_MIGRATION)

    unfiltered = project.run("makemigrations", "--check")
    project.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\nexclude_tables = ["legacy_*"]',
    )
    excluded = project.run("makemigrations", "--check")

    assert unfiltered.exit_code == 1
    assert "    - Drop table legacy_orders" in unfiltered.stdout
    assert excluded.exit_code == 0, excluded.output


def test_an_include_object_hook_filters_too(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.write("migrations/0002_legacy.py", LEGACY_MIGRATION)
    sqlite_project.write(
        "shop/filters.py",
        """
        def include(obj, name, type_, reflected, compare_to):
            return not (type_ == "table" and name.startswith("legacy_"))
        """,
    )
    sqlite_project.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\ninclude_object = "shop.filters:include"',
    )

    result = sqlite_project.run("makemigrations", "--check")

    assert result.exit_code == 0, result.output


def test_merge_joins_two_heads(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.run("makemigrations", "--empty", "-n", "branch_a")
    branch_b = sqlite_project.root / "migrations/0002_branch_b.py"
    branch_b.write_text(
        (sqlite_project.root / "migrations/0002_branch_a.py")
        .read_text()
        .replace("0002_branch_a", "0002_branch_b")
    )

    refused = sqlite_project.run("makemigrations")
    merged = sqlite_project.run("makemigrations", "--merge", "--no-input")

    assert refused.exit_code == 3
    assert "several heads (0002_branch_a, 0002_branch_b)" in refused.stderr
    assert "manage makemigrations --merge" in refused.stderr
    assert merged.exit_code == 0, merged.output
    assert merged.stdout == (
        "Created new merge migration migrations/0003_merge_branch_a_branch_b.py\n"
    )
    assert sqlite_project.run("migrate").exit_code == 0
    assert sqlite_project.version() == {"0003_merge_branch_a_branch_b"}


def test_merge_asks_first_and_a_no_writes_nothing(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.run("makemigrations", "--empty", "-n", "a")
    text = (sqlite_project.root / "migrations/0002_a.py").read_text()
    (sqlite_project.root / "migrations/0002_b.py").write_text(text.replace("0002_a", "0002_b"))
    before = sqlite_project.files()

    result = sqlite_project.run("makemigrations", "--merge", input="n\n")

    assert result.exit_code == 0, result.output
    assert "Merge 0002_a, 0002_b? [y/N]" in result.stdout
    assert sqlite_project.files() == before


def test_merge_without_conflict_says_so(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("makemigrations", "--merge")

    assert result.exit_code == 0
    assert result.stdout == "No conflicts detected to merge.\n"


SLOW_MIGRATION = """
from alembic import op

revision = "0002_slow"
down_revision = "0001_initial"


def upgrade() -> None:
    op.execute("SELECT pg_sleep(30)")


def downgrade() -> None:
    pass
"""


def test_a_terminated_run_drops_its_shadow_database(make_project: object) -> None:
    import signal
    import subprocess
    import time

    import sqlalchemy as sa

    from tests.conftest import BIN

    project: Project = make_project("postgresql")  # type: ignore[operator]
    project.run("makemigrations")
    project.write("migrations/0002_slow.py", SLOW_MIGRATION)
    # A change to write: with nothing to write, the in-memory replay answers without a shadow.
    project.edit("shop/models.py", "String(200)", "String(220)")
    admin = sa.create_engine(
        make_url(project.database_url).set(database="postgres"), poolclass=sa.pool.NullPool
    )

    def shadows() -> set[str]:
        """This run's shadows (other tests on the server make theirs at the same time)."""
        with admin.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE datname LIKE 'manage_shadow_%%'"
            )
            return {row[0] for row in rows if f"_p{process.pid}_" in row[0]}

    process = subprocess.Popen(
        [str(BIN / "manage"), "makemigrations"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not shadows() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shadows(), "the shadow database should exist while the replay runs"
    time.sleep(0.5)  # inside pg_sleep now
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=30)

    assert process.returncode == 128 + signal.SIGTERM, err
    assert not shadows()
    assert "Traceback" not in err
    admin.dispose()


NAMED = """
import sqlalchemy as sa
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s"})


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
"""
WITH_PUBLISHER = (
    NAMED
    + """    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publisher.id"))


class Publisher(Base):
    __tablename__ = "publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
"""
)


def test_dropping_a_table_and_the_foreign_key_to_it_migrates_both_ways(project: Project) -> None:
    # Alembic orders drop_table before the drop of the foreign key that points at the table
    # (and, going back, create_foreign_key before create_table): PostgreSQL and SQLite fail.
    project.write("shop/models.py", NAMED)
    project.run("makemigrations")
    project.write("shop/models.py", WITH_PUBLISHER)
    project.run("makemigrations")
    project.write("shop/models.py", NAMED)

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[1:] == [
        "  migrations/0003_auto_" + made.stdout.split("0003_auto_")[1].split()[0],
        "    - Drop foreign key fk_book_publisher_id on book",
        "    - Remove column publisher_id from book",
        "    - Drop table publisher",
        "  ! Drop column book.publisher_id (destructive: data in it is lost)",
        "  ! Drop table publisher (destructive: its rows are lost)",
    ]
    for args in (("migrate",), ("migrate", "0002"), ("migrate",), ("migrate", "0001")):
        result = project.run(*args)
        assert result.exit_code == 0, (args, result.output)
    assert project.tables() == {"alembic_version", "author", "book"}
