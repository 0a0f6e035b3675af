"""makemigrations --empty --sql: a migration that runs the .sql files beside it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import Project

UPGRADE = """-- A view for the shop's front page; the string holds a ';' and a ':'.
CREATE VIEW book_label AS SELECT id, 'book; at 10:30' AS label FROM book;
INSERT INTO author (id, name) VALUES (1, 'Herbert');
"""
DOWNGRADE = "DELETE FROM author WHERE id = 1;\nDROP VIEW book_label;\n"


def test_a_sql_migration_runs_its_files_both_ways(project: Project) -> None:
    project.run("makemigrations")

    result = project.run("makemigrations", "--empty", "--sql", "-n", "add_view")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Migrations:",
        "  migrations/0002_add_view.py",
        "    migrations/0002_add_view.upgrade.sql",
        "    migrations/0002_add_view.downgrade.sql",
    ]
    assert (project.root / "migrations/0002_add_view.upgrade.sql").read_text() == (
        "-- Upgrade of migration 0002_add_view.\n"
        "-- Statements end with ';'. This file runs when you apply the migration.\n"
    )
    project.write("migrations/0002_add_view.upgrade.sql", UPGRADE)
    project.write("migrations/0002_add_view.downgrade.sql", DOWNGRADE)

    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT label FROM book_label")).all()
        names = connection.execute(sa.text("SELECT name FROM author")).scalars().all()
    assert (rows, names) == ([], ["Herbert"])
    shown = project.run("sqlmigrate", "0002")
    assert "CREATE VIEW book_label AS SELECT id, 'book; at 10:30' AS label FROM book;" in (
        shown.stdout.splitlines()
    )
    # The downgrade's DELETE may delete data: manage cannot tell, so it asks for permission.
    refused = project.run("migrate", "0001")
    assert refused.exit_code == 3
    assert "0002_add_view: runs 'DELETE FROM author WHERE id = 1' (may delete data)" in (
        refused.stderr
    )
    assert project.run("migrate", "0001", "--allow-data-loss").exit_code == 0
    assert "book_label" not in sa.inspect(engine).get_view_names()
    engine.dispose()


def test_one_pair_of_files_per_dialect(project: Project) -> None:
    project.run("makemigrations")

    result = project.run(
        "makemigrations", "--empty", "--sql", "-n", "fill", "--dialect", "postgresql"
    )
    project.write(
        "migrations/0002_fill.postgresql.upgrade.sql", "INSERT INTO author VALUES (1, 'pg');"
    )
    project.write("migrations/0002_fill.upgrade.sql", "INSERT INTO author VALUES (1, 'other');")
    project.write("migrations/0002_fill.downgrade.sql", "DELETE FROM author;")

    assert result.stdout.splitlines()[2:] == [
        "    migrations/0002_fill.postgresql.upgrade.sql",
        "    migrations/0002_fill.postgresql.downgrade.sql",
    ]
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.connect() as connection:
        names = connection.execute(sa.text("SELECT name FROM author")).scalars().all()
    engine.dispose()
    assert names == ["pg" if project.dialect == "postgresql" else "other"]
    # On PostgreSQL the downgrade file is the template: comments only, so no statements run.
    # Elsewhere it deletes, which needs permission.
    assert project.run("migrate", "0001", "--allow-data-loss").exit_code == 0


def test_a_missing_sql_file_names_it(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.run("makemigrations", "--empty", "--sql", "-n", "fill")
    (sqlite_project.root / "migrations/0002_fill.upgrade.sql").unlink()

    result = sqlite_project.run("migrate")

    assert result.exit_code == 3
    note, error = result.stderr.split("\n", 1)  # the replay met it first (issue 15)
    assert note.startswith(
        "Applying step by step, not in one pass: Migration 0002_fill cannot be replayed without "
        "a database: its upgrade() raised FileNotFoundError: "
    )
    assert error.startswith(
        "Error: Migration 0002_fill (migrations/0002_fill.py, line 23) failed while applying "
        'run_sql_file(__file__, "upgrade"): FileNotFoundError: 0002_fill.py runs SQL from '
        "0002_fill.sqlite.upgrade.sql or 0002_fill.upgrade.sql in "
    )
    assert result.stderr.endswith(
        "the database stays at 0001_initial. Correct the cause (the migration file, or the "
        "database it runs on), then run migrate again.\n"
    )


def test_sql_needs_empty(sqlite_project: Project) -> None:
    result = sqlite_project.run("makemigrations", "--sql")

    assert (result.exit_code, result.stderr) == (
        2,
        "Error: --sql writes a migration that runs .sql files, so it needs --empty: run "
        "'manage makemigrations --empty --sql -n NAME'.\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dialect", "sqlite"], "Error: --dialect names the dialects of the .sql files that "
         "--sql writes: run 'manage makemigrations --empty --sql --dialect NAME -n NAME'.\n"),
        (["--update", "--sql"], "Error: --update cannot be combined with --check, --dry-run, "
         "--empty, --merge or --sql.\n"),
        (["--empty", "--rename", "book.title=book.name"], "Error: --rename and --default answer "
         "questions about model changes; --empty writes a migration without them, so it asks "
         "none. Leave them out.\n"),
    ],
)  # fmt: skip
def test_options_that_do_nothing_together_are_usage_errors(
    sqlite_project: Project, args: list[str], message: str
) -> None:
    before = sqlite_project.files()

    result = sqlite_project.run("makemigrations", *args)

    assert (result.exit_code, result.stderr) == (2, message)
    assert sqlite_project.files() == before


def test_a_dry_run_names_the_sql_files_where_they_would_go(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("makemigrations", "--empty", "--sql", "--dry-run", "-n", "fill")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:4] == [
        "  migrations/0002_fill.py",
        "    migrations/0002_fill.upgrade.sql",
        "    migrations/0002_fill.downgrade.sql",
    ]
