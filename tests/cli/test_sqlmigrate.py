"""sqlmigrate: the SQL of one migration for the configured dialect, offline, linter-ready."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Project

AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
ISBN = AUTHOR_ID + "    isbn: Mapped[str | None] = mapped_column(String(13))\n"

UPGRADE = {
    "sqlite": "BEGIN;\n\nALTER TABLE book ADD COLUMN isbn VARCHAR(13);\n\nCOMMIT;\n",
    "postgresql": "BEGIN;\n\nALTER TABLE book ADD COLUMN isbn VARCHAR(13);\n\nCOMMIT;\n",
    # issue 14: MariaDB adds the column instantly or refuses (docs/zero-downtime.md)
    "mariadb": "SET SESSION alter_algorithm = 'INSTANT';\n\n"
    "ALTER TABLE book ADD COLUMN isbn VARCHAR(13);\n\n"
    "SET SESSION alter_algorithm = DEFAULT;\n",
}
BACKWARDS = {
    # SQLite cannot drop the column in place: Alembic's batch mode copies the table.
    "sqlite": """BEGIN;

CREATE TABLE _alembic_tmp_book (
    id INTEGER NOT NULL,
    title VARCHAR(200) NOT NULL,
    author_id INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(author_id) REFERENCES author (id)
);

INSERT INTO _alembic_tmp_book (id, title, author_id) SELECT book.id, book.title, book.author_id
FROM book;

DROP TABLE book;

ALTER TABLE _alembic_tmp_book RENAME TO book;

COMMIT;
""",
    "postgresql": "BEGIN;\n\nALTER TABLE book DROP COLUMN isbn;\n\nCOMMIT;\n",
    "mariadb": "ALTER TABLE book DROP COLUMN isbn;\n",
}
INITIAL_BOOK = {
    "sqlite": "    id INTEGER NOT NULL,",
    "postgresql": "    id SERIAL NOT NULL,",
    "mariadb": "    id INTEGER NOT NULL AUTO_INCREMENT,",
}


def test_sqlmigrate_prints_one_migration_without_a_database(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_ID, ISBN)
    project.run("makemigrations")
    if project.dialect != "sqlite":  # nothing listens there: the SQL needs no connection
        unreachable = make_url(project.database_url).set(host="127.0.0.1", port=1)
        monkeypatch.setenv("DATABASE_URL", unreachable.render_as_string(hide_password=False))

    forwards = project.run("sqlmigrate", "0002")
    backwards = project.run("sqlmigrate", "0002_add_book_isbn", "--backwards")
    initial = project.run("sqlmigrate", "0001")

    assert (forwards.exit_code, forwards.stdout) == (0, UPGRADE[project.dialect]), forwards.output
    assert (backwards.exit_code, backwards.stdout) == (0, BACKWARDS[project.dialect])
    assert initial.exit_code == 0, initial.output
    lines = initial.stdout.splitlines()
    assert lines.count(INITIAL_BOOK[project.dialect]) == 2
    assert not [line for line in lines if line != line.rstrip()], "no trailing spaces"
    assert "alembic_version" not in initial.stdout + backwards.stdout
    assert not [line for line in lines if line.startswith("--")], "no Alembic comments"
    assert project.tables() == set(), "no database was touched"


def test_sqlmigrate_of_a_migration_without_statements(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.run("makemigrations", "--empty", "-n", "nothing")

    result = sqlite_project.run("sqlmigrate", "0002")

    assert result.exit_code == 0
    assert result.stdout == "BEGIN;\n\nCOMMIT;\n"


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        (
            "0009",
            "Error: Unknown migration '0009'. Nearest valid ids: 0001_initial. "
            "Run 'manage showmigrations' to list them.\n",
        ),
        (
            "head",
            "Error: sqlmigrate shows one migration; 'head' is not one. Give a migration id or "
            "prefix, e.g. 'manage sqlmigrate 0002'.\n",
        ),
    ],
)
def test_sqlmigrate_of_an_unknown_migration(
    sqlite_project: Project, revision: str, message: str
) -> None:
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("sqlmigrate", revision)

    assert (result.exit_code, result.stdout, result.stderr) == (3, "", message)


def test_sqlmigrate_of_a_migration_that_reads_the_database(make_project: object) -> None:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    project.write(
        "migrations/0001_data.py",
        """
        from alembic import op

        revision = "0001_data"
        down_revision = None


        def upgrade() -> None:
            op.get_bind().exec_driver_sql("SELECT 1").scalar()


        def downgrade() -> None:
            pass
        """,
    )

    result = project.run("sqlmigrate", "0001")

    assert result.exit_code == 3
    assert result.stderr.startswith("Error: Cannot render the SQL of 0001_data upgrade() offline: ")
    assert result.stderr.endswith(
        "need a live database: run 'manage migrate 0001_data' against a copy of the database "
        "instead.\n"
    )
