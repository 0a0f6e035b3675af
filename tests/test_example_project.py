"""The example project end to end, as separate ``manage`` processes, on each database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Project

EXAMPLE = Path(__file__).parents[1] / "example_project"
HISTORY = ["0001_initial", "0002_add_book_isbn", "0003_create_loan", "0004_alter_author_name"]


@pytest.fixture
def example(tmp_path: Path, fresh_database: object, dialect: str) -> tuple[Project, dict[str, str]]:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    url = fresh_database(dialect, root)  # type: ignore[operator]
    env = {} if dialect == "sqlite" else {"DATABASE_URL": url}
    return Project(root, url, dialect), env


def test_the_committed_history_matches_the_models(example: tuple[Project, dict[str, str]]) -> None:
    project, env = example

    result = project.subprocess("makemigrations", "--check", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "No changes detected\n"
    assert sorted(p.name for p in (project.root / "migrations").iterdir()) == [
        f"{rev}.py" for rev in HISTORY
    ], "a check writes nothing into the project, not even __pycache__"


def test_migrate_show_unapply_and_reapply(example: tuple[Project, dict[str, str]]) -> None:
    project, env = example

    migrate = project.subprocess("migrate", env=env)
    show = project.subprocess("showmigrations", env=env)

    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.splitlines()[-1] == (  # a fresh database: in one pass (issue 15)
        f"  Fast-forwarded 4 migrations to {HISTORY[-1]} in one pass."
    )
    assert project.tables() == {"alembic_version", "author", "book", "loan"}
    assert show.stdout.splitlines() == [
        " [X] 0001_initial",
        " [X] 0002_add_book_isbn",
        " [X] 0003_create_loan",
        " [X] 0004_alter_author_name (head)",
    ]
    # The loan_status enum type goes with its table, so zero-and-back works on PostgreSQL too.
    zero = project.subprocess("migrate", "zero", env=env)
    assert zero.returncode == 0, zero.stderr
    assert project.tables() == {"alembic_version"}
    again = project.subprocess("migrate", env=env)
    assert again.returncode == 0, again.stderr
    assert project.version() == {"0004_alter_author_name"}


def test_server_defaults_and_the_enum_work_in_the_migrated_schema(
    example: tuple[Project, dict[str, str]],
) -> None:
    project, env = example
    assert project.subprocess("migrate", env=env).returncode == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO author (id, name) VALUES (1, 'Le Guin')")
        connection.exec_driver_sql(
            "INSERT INTO book (id, title, isbn, author_id)"
            " VALUES (1, 'Earthsea', '9780553383041', 1)"
        )
        connection.exec_driver_sql(
            "INSERT INTO loan (id, book_id, borrower, status) VALUES (1, 1, 'Ged', 'OUT')"
        )
        created, loaned = connection.exec_driver_sql(
            "SELECT book.created_at, loan.loaned_at FROM book JOIN loan ON loan.book_id = book.id"
        ).one()
    engine.dispose()

    assert created is not None
    assert loaned is not None


def test_the_seed_project_command(example: tuple[Project, dict[str, str]]) -> None:
    project, env = example

    early = project.subprocess("seed", env=env)
    assert project.subprocess("migrate", env=env).returncode == 0
    seeded = project.subprocess("seed", env=env)
    again = project.subprocess("seed", "--no-loans", env=env)

    assert (early.returncode, early.stderr) == (
        3,
        "Error: The bookshop tables do not exist yet. Run 'manage migrate' first.\n",
    )
    assert (seeded.returncode, seeded.stdout) == (0, "Seeded 3 authors, 5 books and 2 loans.\n")
    assert (again.returncode, again.stdout) == (
        0,
        "The database has authors already; nothing seeded.\n",
    )
    engine = project.engine()
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT book.title, loan.borrower, loan.status FROM loan"
            " JOIN book ON book.id = loan.book_id ORDER BY loan.borrower"
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("Kindred", "Dana", "RETURNED"),
        ("A Wizard of Earthsea", "Ged", "OUT"),
    ]


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_seed_without_loans_on_a_fresh_database(example: tuple[Project, dict[str, str]]) -> None:
    project, env = example
    assert project.subprocess("migrate", env=env).returncode == 0

    seeded = project.subprocess("seed", "--no-loans", env={**env, "PYTHONWARNINGS": "error"})

    assert (seeded.returncode, seeded.stdout, seeded.stderr) == (
        0,
        "Seeded 3 authors, 5 books and 0 loans.\n",
        "",
    )
    engine = project.engine()
    with engine.connect() as connection:
        counts = connection.exec_driver_sql(
            "SELECT (SELECT count(*) FROM book), (SELECT count(*) FROM loan)"
        ).one()
    engine.dispose()
    assert tuple(counts) == (5, 0)
