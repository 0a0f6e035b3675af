"""The core user story on SQLite, PostgreSQL and MariaDB: from models to a migrated database."""

from __future__ import annotations

import pytest

from tests.conftest import Project

PRICE = "    title: Mapped[str] = mapped_column(String(200))\n"
WITH_PRICE = PRICE + "    price: Mapped[int | None]\n"


def migrated(project: Project) -> Project:
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    return project


def test_makemigrations_writes_initial_and_nothing_else(project: Project) -> None:
    result = project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Migrations:",
        "  migrations/0001_initial.py",
        "    + Create table author",
        "    + Create table book",
    ]
    assert project.migrations() == ["0001_initial.py"]
    for name in ("alembic.ini", "env.py", "script.py.mako", "migrations/env.py"):
        assert not (project.root / name).exists(), name
    assert project.tables() == set(), "makemigrations must not touch the development database"
    assert not (project.root / "db.sqlite3").exists()


def test_migrate_creates_the_tables_and_showmigrations_marks_them(project: Project) -> None:
    project.run("makemigrations")

    result = project.run("migrate")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Operations to perform:",
        "  Apply all migrations",
        "Running migrations:",
        "  Applying 0001_initial... OK",
    ]
    assert project.tables() == {"alembic_version", "author", "book"}
    assert project.version() == {"0001_initial"}
    shown = project.run("showmigrations")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines() == [" [X] 0001_initial (head)"]


def test_default_database_is_db_sqlite3_in_the_project_root(sqlite_project: Project) -> None:
    migrated(sqlite_project)

    assert (sqlite_project.root / "db.sqlite3").is_file()


def test_check_lists_the_pending_column_and_writes_nothing(project: Project) -> None:
    migrated(project)
    project.edit("shop/models.py", PRICE, WITH_PRICE)
    before = project.files()

    result = project.run("makemigrations", "--check")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "Model changes without a migration:",
        "    + Add column price to book",
        "Run 'manage makemigrations' to write migrations/0002_add_book_price.py.",
    ]
    assert project.files() == before


def test_check_passes_when_models_match_the_history(project: Project) -> None:
    project.run("makemigrations")

    result = project.run("makemigrations", "--check")

    assert result.exit_code == 0, result.output
    assert result.stdout == "No changes detected\n"


def test_named_migration_and_derived_name(project: Project) -> None:
    migrated(project)
    project.edit("shop/models.py", PRICE, WITH_PRICE)

    named = project.run("makemigrations", "-n", "add_price")

    assert named.exit_code == 0, named.output
    assert named.stdout.splitlines()[1:] == [
        "  migrations/0002_add_price.py",
        "    + Add column price to book",
    ]
    (project.root / "migrations" / "0002_add_price.py").unlink()
    derived = project.run("makemigrations")
    assert derived.exit_code == 0, derived.output
    assert project.migrations() == ["0001_initial.py", "0002_add_book_price.py"]


def test_migrate_backwards_to_a_target_to_zero_and_forward_again(project: Project) -> None:
    migrated(project)
    project.edit("shop/models.py", PRICE, WITH_PRICE)
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    assert "price" in project.columns("book")

    back = project.run("migrate", "0001")

    assert back.exit_code == 0, back.output
    assert back.stdout.splitlines() == [
        "Operations to perform:",
        "  Target specific migration: 0001",
        "Running migrations:",
        "  Unapplying 0002_add_book_price... OK",
    ]
    assert "price" not in project.columns("book")
    assert project.version() == {"0001_initial"}

    zero = project.run("migrate", "zero")
    assert zero.exit_code == 0, zero.output
    assert zero.stdout.splitlines()[-1] == "  Unapplying 0001_initial... OK"
    assert project.tables() == {"alembic_version"}
    assert project.version() == set()

    forward = project.run("migrate")
    assert forward.exit_code == 0, forward.output
    assert forward.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... OK",
        "  Applying 0002_add_book_price... OK",
    ]
    assert "price" in project.columns("book")
    again = project.run("migrate")
    assert again.stdout.splitlines()[-1] == "  No migrations to apply."


def test_plan_lists_and_runs_nothing(project: Project) -> None:
    project.run("makemigrations")

    result = project.run("migrate", "--plan")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["Planned operations:", "  Apply 0001_initial"]
    assert project.tables() == set()
    assert not (project.root / "db.sqlite3").exists()


def test_migrate_check_exits_1_while_migrations_are_unapplied(project: Project) -> None:
    project.run("makemigrations")

    pending = project.run("migrate", "--check")

    assert pending.exit_code == 1, pending.output
    assert pending.stdout.splitlines() == ["Unapplied migrations:", "  0001_initial"]
    assert project.tables() == set()
    project.run("migrate")
    done = project.run("migrate", "--check")
    assert done.exit_code == 0, done.output


def test_fake_records_without_running(project: Project) -> None:
    project.run("makemigrations")

    result = project.run("migrate", "--fake")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "  Applying 0001_initial... FAKED"
    assert project.tables() == {"alembic_version"}
    assert project.version() == {"0001_initial"}
    unfaked = project.run("migrate", "zero", "--fake")
    assert unfaked.stdout.splitlines()[-1] == "  Unapplying 0001_initial... FAKED"
    assert project.version() == set()


def test_sql_prints_the_ddl_without_touching_any_database(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.run("makemigrations")
    unreachable = {
        "sqlite": "sqlite:////nonexistent-folder/db.sqlite3",
        "postgresql": "postgresql+psycopg://nobody:pw@127.0.0.1:1/none",
        "mariadb": "mysql+pymysql://nobody:pw@127.0.0.1:1/none",
    }[project.dialect]
    monkeypatch.setenv("DATABASE_URL", unreachable)

    result = project.run("migrate", "--sql")

    assert result.exit_code == 0, result.output
    assert "CREATE TABLE author" in result.stdout
    assert "CREATE TABLE book" in result.stdout
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001_initial')" in result.stdout


def test_sql_for_a_range_and_for_zero(sqlite_project: Project) -> None:
    migrated(sqlite_project)
    backward = sqlite_project.run("migrate", "--sql", "zero")
    sqlite_project.edit("shop/models.py", PRICE, WITH_PRICE)
    sqlite_project.run("makemigrations")

    forward = sqlite_project.run("migrate", "--sql", "0001:0002")

    assert forward.exit_code == 0, forward.output
    assert "ALTER TABLE book ADD COLUMN price INTEGER" in forward.stdout
    assert "CREATE TABLE author" not in forward.stdout
    assert backward.exit_code == 0, backward.output
    assert "DROP TABLE book" in backward.stdout
    assert "DELETE FROM alembic_version WHERE alembic_version.version_num = '0001_initial'" in (
        backward.stdout
    )


def test_sql_that_needs_a_live_sqlite_table_says_so(sqlite_project: Project) -> None:
    migrated(sqlite_project)
    sqlite_project.edit("shop/models.py", PRICE, WITH_PRICE)
    sqlite_project.run("makemigrations")

    # Dropping a column on SQLite copies the table, which Alembic must reflect first.
    result = sqlite_project.run("migrate", "--sql", "0002:0001")

    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("Error: Cannot render the SQL offline: This operation cannot")
    assert result.stderr.rstrip().endswith("Run the migration against a database instead.")


def test_multiple_migrations_run_in_order_on_a_fresh_database(project: Project) -> None:
    project.run("makemigrations")
    project.edit("shop/models.py", PRICE, WITH_PRICE)
    project.run("makemigrations")

    result = project.run("migrate", "--step-by-step")  # a fresh database, each in turn

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... OK",
        "  Applying 0002_add_book_price... OK",
    ]
    assert project.version() == {"0002_add_book_price"}
    assert project.run("showmigrations").stdout.splitlines() == [
        " [X] 0001_initial",
        " [X] 0002_add_book_price (head)",
    ]
