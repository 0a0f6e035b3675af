"""An empty database is fast-forwarded: created in one pass from the replayed history, every
migration recorded (issue 15). The schemas' equality is tests/corpus/test_fast_forward.py."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from manage.core.history import HISTORY_TABLE, history_table
from manage.core.settings import load_settings
from manage.pytest_builtin import _migrator
from tests.cli.test_history import history
from tests.cli.test_workflow import PRICE, WITH_PRICE
from tests.conftest import Project

FILL = '''
"""Fill"""
from alembic import op

revision = "0003_fill"
down_revision = "0002_add_book_price"


def upgrade() -> None:
    op.execute("UPDATE book SET price = 1")


def downgrade() -> None:
    pass
'''


def two_migrations(project: Project) -> Project:
    assert project.run("makemigrations").exit_code == 0
    project.edit("shop/models.py", PRICE, WITH_PRICE)
    assert project.run("makemigrations").exit_code == 0
    return project


def test_an_empty_database_is_created_in_one_pass_and_every_migration_recorded(
    project: Project,
) -> None:
    two_migrations(project)

    result = project.run("migrate")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Operations to perform:\n"
        "  Apply all migrations\n"
        "Running migrations:\n"
        "  Fast-forwarded 2 migrations to 0002_add_book_price in one pass.\n"
    )
    assert result.stderr == ""
    assert project.tables() == {"alembic_version", "author", "book"}
    assert "price" in project.columns("book")
    engine = project.engine()
    with engine.connect() as connection:  # what plain Alembic reads
        assert MigrationContext.configure(connection).get_current_heads() == (
            "0002_add_book_price",
        )
    engine.dispose()
    rows = history(project)
    assert [(r[0], r[1]) for r in rows] == [
        ("0001_initial", "fast-forward"),
        ("0002_add_book_price", "fast-forward"),
    ]
    assert all(len(r[2]) == 64 for r in rows)  # the files' sha256
    assert project.run("showmigrations").stdout == (
        " [X] 0001_initial\n [X] 0002_add_book_price (head)\n"
    )
    again = project.run("migrate")
    assert again.stdout.splitlines()[-1] == "  No migrations to apply."
    # A fast-forwarded database unapplies and applies again like any other.
    assert project.run("migrate", "0001").exit_code == 0
    assert "price" not in project.columns("book")
    assert [(r[0], r[1]) for r in history(project)][-1] == ("0002_add_book_price", "unapply")


def test_step_by_step_runs_each_migration_on_an_empty_database(sqlite_project: Project) -> None:
    two_migrations(sqlite_project)

    result = sqlite_project.run("migrate", "--step-by-step")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... OK",
        "  Applying 0002_add_book_price... OK",
    ]
    assert result.stderr == ""
    assert [(r[0], r[1]) for r in history(sqlite_project)] == [
        ("0001_initial", "apply"),
        ("0002_add_book_price", "apply"),
    ]


def test_a_migration_with_its_own_sql_makes_it_fall_back_and_says_which(
    project: Project,
) -> None:
    two_migrations(project)
    project.write("migrations/0003_fill.py", FILL)

    result = project.run("migrate")

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Applying step by step, not in one pass: Migration 0003_fill runs SQL of its own or "
        "reads rows (op.execute or op.get_bind()), which the replay cannot repeat exactly.\n"
    )
    assert result.stdout.splitlines()[-3:] == [
        "  Applying 0001_initial... OK",
        "  Applying 0002_add_book_price... OK",
        "  Applying 0003_fill... OK",
    ]
    # Up to the migration before it, the same database would have been fast-forwarded.
    assert project.run("migrate", "0001").exit_code == 0  # (not empty: step by step)


def test_a_target_before_the_fallback_is_fast_forwarded(sqlite_project: Project) -> None:
    two_migrations(sqlite_project)
    sqlite_project.write("migrations/0003_fill.py", FILL)

    result = sqlite_project.run("migrate", "0002")

    assert result.stdout.splitlines()[-1] == (
        "  Fast-forwarded 2 migrations to 0002_add_book_price in one pass."
    )
    assert result.stderr == ""
    rest = sqlite_project.run("migrate")
    assert rest.stdout.splitlines()[-1] == "  Applying 0003_fill... OK"


def test_a_database_holding_anything_is_migrated_step_by_step(project: Project) -> None:
    two_migrations(project)
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE legacy (id INTEGER PRIMARY KEY)")
    engine.dispose()

    result = project.run("migrate")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # nothing to explain: only an empty database is fast-forwarded
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... OK",
        "  Applying 0002_add_book_price... OK",
    ]


def test_a_single_migration_runs_as_always(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    result = sqlite_project.run("migrate")

    assert result.stdout.splitlines()[-1] == "  Applying 0001_initial... OK"
    assert result.stderr == ""


def test_fake_keeps_its_behaviour_on_an_empty_database(sqlite_project: Project) -> None:
    two_migrations(sqlite_project)

    plan = sqlite_project.run("migrate", "--plan", "--fake")
    assert plan.stdout == (
        "Planned operations:\n  Apply 0001_initial\n  Apply 0002_add_book_price\n"
    )
    fake = sqlite_project.run("migrate", "--fake")
    assert fake.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... FAKED",
        "  Applying 0002_add_book_price... FAKED",
    ]
    assert sqlite_project.tables() == {"alembic_version"}


def test_a_history_table_made_earlier_keeps_working(sqlite_project: Project) -> None:
    """The history table of an older manage (no version_table column) is not in the way: the
    column is added, and the fast-forward's rows are read back."""
    two_migrations(sqlite_project)
    engine = sqlite_project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {HISTORY_TABLE} (id INTEGER PRIMARY KEY, revision VARCHAR(255) NOT "
            "NULL, direction VARCHAR(16) NOT NULL, checksum VARCHAR(64), started_at DATETIME "
            "NOT NULL, duration_ms INTEGER NOT NULL, host VARCHAR(255), username VARCHAR(255))"
        )
    engine.dispose()

    result = sqlite_project.run("migrate")

    assert result.stdout.splitlines()[-1].startswith("  Fast-forwarded 2 migrations")
    assert [r[1] for r in history(sqlite_project)] == ["fast-forward", "fast-forward"]
    assert sqlite_project.run("showmigrations").stdout.count("[X]") == 2


def test_a_failing_fast_forward_leaves_the_database_empty(sqlite_project: Project) -> None:
    """The database refuses the one-pass DDL: nothing stays (one transaction), and the message
    says how to go on."""
    two_migrations(sqlite_project)
    path = sqlite_project.root / "migrations" / "0002_add_book_price.py"
    text = path.read_text()
    broken = '    op.create_index("ix_broken", "book", [sa.text("lower(no_such_column)")])\n'
    path.write_text(text.replace("    # ### end Alembic commands ###", broken, 1))
    assert "no_such_column" in path.read_text()

    result = sqlite_project.run("migrate")

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: Fast-forwarding the empty database to 0002_add_book_price failed: "
    ), result.stderr
    assert result.stderr.rstrip().endswith(
        "Nothing was applied, then run 'manage migrate --step-by-step', which applies each "
        "migration in turn."
    )
    assert "Traceback" not in result.output
    assert sqlite_project.tables() == set()


def test_the_pytest_plugins_database_is_fast_forwarded(sqlite_project: Project) -> None:
    two_migrations(sqlite_project)
    settings = load_settings(cwd=sqlite_project.root)
    fixture = _migrator(settings)(f"sqlite:///{sqlite_project.root / 'fixture.sqlite3'}")
    builtin = _migrator(settings, step_by_step=True)(
        f"sqlite:///{sqlite_project.root / 'builtin.sqlite3'}"
    )

    assert fixture.fast_forwarded  # type: ignore[attr-defined]
    assert not builtin.fast_forwarded  # type: ignore[attr-defined]
    # Throwaway databases keep no history.
    engine = sa.create_engine(f"sqlite:///{sqlite_project.root / 'fixture.sqlite3'}")
    with engine.connect() as connection:
        assert not sa.inspect(connection).has_table(history_table.name)
    engine.dispose()
    assert dataclasses.is_dataclass(fixture)


def test_rows_from_a_sql_file_make_it_fall_back(sqlite_project: Project) -> None:
    """A migration whose data statements the replay sees only as it runs (its .sql file) is
    applied step by step, so the rows are there."""
    assert sqlite_project.run("makemigrations").exit_code == 0
    made = sqlite_project.run("makemigrations", "--empty", "--sql", "-n", "seed")
    assert made.exit_code == 0, made.output
    sqlite_project.write(
        "migrations/0002_seed.upgrade.sql", "INSERT INTO author (id, name) VALUES (1, 'Herbert');\n"
    )

    result = sqlite_project.run("migrate")

    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Applying step by step, not in one pass: Migration 0002_seed ")
    assert result.stdout.splitlines()[-1] == "  Applying 0002_seed... OK"
    engine = sqlite_project.engine()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM author").scalars().all() == ["Herbert"]
    engine.dispose()
