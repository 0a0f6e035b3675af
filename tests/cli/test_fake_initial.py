"""migrate --fake-initial: adopt a legacy database whose tables the first migration creates."""

from __future__ import annotations

from tests.conftest import Project

LEGACY = [
    "CREATE TABLE author (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL)",
    "CREATE TABLE book (id INTEGER NOT NULL PRIMARY KEY, title VARCHAR(200) NOT NULL,"
    " author_id INTEGER NOT NULL REFERENCES author (id))",
    "INSERT INTO author (id, name) VALUES (1, 'kept')",
]


def legacy(project: Project, statements: list[str]) -> None:
    engine = project.engine()
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_fake_initial_records_the_first_migration_and_applies_the_rest(project: Project) -> None:
    assert project.run("makemigrations").exit_code == 0
    project.edit("shop/models.py", "    name: Mapped[str] = mapped_column(String(100))\n",
                 "    name: Mapped[str] = mapped_column(String(100))\n"
                 "    email: Mapped[str | None] = mapped_column(String(200))\n")  # fmt: skip
    assert project.run("makemigrations").exit_code == 0
    legacy(project, LEGACY)

    plain = project.run("migrate")
    planned = project.run("migrate", "--plan", "--fake-initial")
    result = project.run("migrate", "--fake-initial")

    assert plain.exit_code == 3  # without the flag the first migration cannot create author
    assert planned.exit_code == 0, planned.output
    assert planned.stdout == (
        "Planned operations:\n"
        "  Fake 0001_initial (its tables exist already)\n"
        "  Apply 0002_add_author_email\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... FAKED",
        "  Applying 0002_add_author_email... OK",
    ]
    assert project.version() == {"0002_add_author_email"}
    assert "email" in project.columns("author")
    engine = project.engine()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM author").scalar() == "kept"
    engine.dispose()


def test_fake_initial_applies_normally_on_an_empty_database(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    result = sqlite_project.run("migrate", "--fake-initial")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "  Applying 0001_initial... OK"
    assert sqlite_project.tables() == {"alembic_version", "author", "book"}


def test_fake_initial_refuses_when_only_some_tables_exist(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    legacy(sqlite_project, LEGACY[:1])

    result = sqlite_project.run("migrate", "--fake-initial")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: --fake-initial: 0001_initial creates author, book, but only author exist "
        "(not book), so it can be neither faked nor applied. Create or drop those tables by "
        "hand so that all or none exist.\n"
    )
    assert sqlite_project.version() == set()
