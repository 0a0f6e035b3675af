"""``migrate --plan`` says whether the run would fast-forward an empty database, or why it would
go step by step (issue 15), decided by the function the run decides with; and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import manage
from tests.cli.test_fast_forward import FILL, two_migrations
from tests.conftest import Project

FALLBACK = (
    "Applying step by step, not in one pass: Migration 0003_fill runs SQL of its own or reads "
    "rows (op.execute or op.get_bind()), which the replay cannot repeat exactly."
)


def everything_in(project: Project) -> set[str]:
    """What the database holds, reflected: tables (manage's history table too), views,
    sequences. A SQLite file that is not there holds nothing."""
    if not project.database_exists():
        return set()
    engine = project.engine()
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            found = {f"table {name}" for name in inspector.get_table_names()}
            found |= {f"view {name}" for name in inspector.get_view_names()}
            if project.dialect != "sqlite":
                found |= {f"sequence {name}" for name in inspector.get_sequence_names()}
            return found
    finally:
        engine.dispose()


def add_legacy_table(project: Project) -> None:
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE legacy (id INTEGER PRIMARY KEY)")
    engine.dispose()


def test_plan_says_an_empty_database_would_be_fast_forwarded(project: Project) -> None:
    two_migrations(project)

    result = project.run("migrate", "--plan")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Planned operations:\n"
        "  Apply 0001_initial\n"
        "  Apply 0002_add_book_price\n"
        "Would fast-forward 2 migrations to 0002_add_book_price in one pass: the database is "
        "empty.\n"
    )
    assert result.stderr == ""
    assert everything_in(project) == set()  # not even the history table
    if project.dialect == "sqlite":
        assert not project.database_exists()  # the file is not created either


def test_plan_names_the_migration_that_makes_it_fall_back(project: Project) -> None:
    two_migrations(project)
    project.write("migrations/0003_fill.py", FILL)

    plan = project.run("migrate", "--plan")

    assert plan.exit_code == 0, plan.output
    assert plan.stdout == (
        "Planned operations:\n"
        "  Apply 0001_initial\n"
        "  Apply 0002_add_book_price\n"
        "  Apply 0003_fill\n"
        f"{FALLBACK}\n"
    )
    assert plan.stderr == ""
    assert everything_in(project) == set()
    # The very line the run prints (on stderr there, before it applies each migration).
    run = project.run("migrate")
    assert run.exit_code == 0, run.output
    assert run.stderr == f"{FALLBACK}\n"


def test_plan_of_a_database_holding_anything_is_the_plain_plan(project: Project) -> None:
    two_migrations(project)
    add_legacy_table(project)
    before = everything_in(project)

    result = project.run("migrate", "--plan")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Planned operations:\n  Apply 0001_initial\n  Apply 0002_add_book_price\n"
    )
    assert result.stderr == ""
    assert everything_in(project) == before


def test_plan_of_a_partly_migrated_database_is_the_plain_plan(sqlite_project: Project) -> None:
    two_migrations(sqlite_project)
    sqlite_project.write("migrations/0003_fill.py", FILL)
    assert sqlite_project.run("migrate", "0001").exit_code == 0

    result = sqlite_project.run("migrate", "--plan")

    assert result.stdout == (
        "Planned operations:\n  Apply 0002_add_book_price\n  Apply 0003_fill\n"
    )
    assert result.stderr == ""


def test_plan_with_step_by_step_is_the_plain_plan(project: Project) -> None:
    two_migrations(project)

    result = project.run("migrate", "--plan", "--step-by-step")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Planned operations:\n  Apply 0001_initial\n  Apply 0002_add_book_price\n"
    )
    assert result.stderr == ""
    assert everything_in(project) == set()


def test_plan_of_a_single_migration_is_the_plain_plan(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    result = sqlite_project.run("migrate", "--plan")

    assert result.stdout == "Planned operations:\n  Apply 0001_initial\n"


def test_check_predicts_nothing(sqlite_project: Project) -> None:
    """``--check`` lists the unapplied migrations only: it decides nothing, so replays nothing."""
    two_migrations(sqlite_project)

    result = sqlite_project.run("migrate", "--check")

    assert result.exit_code == 1
    assert result.stdout == ("Unapplied migrations:\n  0001_initial\n  0002_add_book_price\n")
    assert manage.call_command("migrate", check=True).fast_forwarded is False


CASES: dict[str, tuple[dict[str, Any], bool, bool]] = {
    # case: (options, fast-forwarded, a reason given)
    "empty": ({}, True, False),
    "op.execute": ({}, False, True),
    "not empty": ({}, False, False),
    "step by step": ({"step_by_step": True}, False, False),
    "fake": ({"fake": True}, False, False),
}


@pytest.mark.parametrize("case", CASES)
def test_the_plan_predicts_what_the_run_does(project: Project, case: str) -> None:
    options, fast_forwarded, explained = CASES[case]
    two_migrations(project)
    if case == "op.execute":
        project.write("migrations/0003_fill.py", FILL)
    if case == "not empty":
        add_legacy_table(project)
    before = everything_in(project)

    plan = manage.call_command("migrate", plan=True, **options)
    assert everything_in(project) == before
    run = manage.call_command("migrate", **options)

    assert not plan.executed and run.executed
    assert plan.steps == run.steps
    assert (plan.fast_forwarded, plan.step_by_step_because) == (
        run.fast_forwarded,
        run.step_by_step_because,
    )
    assert run.fast_forwarded is fast_forwarded
    assert bool(run.step_by_step_because) is explained
