"""makemigrations --update folds new model changes into the latest migration while no database
has applied it, and refuses (saying why) otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Project

AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
ISBN = "    isbn: Mapped[str | None] = mapped_column(String(13))\n"
PRICE = "    price: Mapped[int | None]\n"


def two_migrations(project: Project) -> None:
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + ISBN)
    project.run("makemigrations")
    project.edit("shop/models.py", ISBN, ISBN + PRICE)


def test_update_folds_changes_into_the_unapplied_latest_migration(project: Project) -> None:
    two_migrations(project)
    if project.dialect != "sqlite":
        assert project.run("migrate", "0001").exit_code == 0  # applied up to the parent only
    else:
        assert not project.database_exists(), "no database file counts as nothing applied"

    result = project.run("makemigrations", "--update")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Migrations:",
        "  migrations/0002_add_book_isbn_price.py (updated: replaces 0002_add_book_isbn.py)",
        "    + Add column isbn to book",
        "    + Add column price to book",
    ]
    assert project.migrations() == ["0001_initial.py", "0002_add_book_isbn_price.py"]
    text = (project.root / "migrations/0002_add_book_isbn_price.py").read_text()
    assert 'down_revision: str | Sequence[str] | None = "0001_initial"' in text
    assert project.run("migrate").exit_code == 0
    assert {"isbn", "price"} <= set(project.columns("book"))
    assert project.run("makemigrations", "--check").exit_code == 0


def test_update_refuses_a_migration_the_database_has_applied(project: Project) -> None:
    two_migrations(project)
    project.edit("shop/models.py", PRICE, "")
    assert project.run("migrate").exit_code == 0
    project.edit("shop/models.py", ISBN, ISBN + PRICE)
    before = project.files()

    result = project.run("makemigrations", "--update")

    assert result.exit_code == 3
    display = make_url(project.url_in_effect).render_as_string(hide_password=True)
    assert result.stderr == (
        f"Error: 0002_add_book_isbn is already applied to the database at {display}, so "
        "--update would change a migration that has run. Run 'manage makemigrations' without "
        "--update, or first unapply it with 'manage migrate 0001_initial'.\n"
    )
    assert project.files() == before


def test_update_refuses_when_the_database_cannot_be_checked(
    make_project: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    two_migrations(project)
    unreachable = make_url(project.database_url).set(host="127.0.0.1", port=1)
    monkeypatch.setenv("DATABASE_URL", unreachable.render_as_string(hide_password=False))
    before = project.files()

    result = project.run("makemigrations", "--update")

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: --update rewrites 0002_add_book_isbn only if the database has not applied it, "
        "and the database cannot be checked: Could not connect to the database at "
    )
    assert result.stderr.endswith("Or run 'manage makemigrations' without --update.\n")
    assert project.files() == before


def test_update_without_new_changes_changes_nothing(sqlite_project: Project) -> None:
    two_migrations(sqlite_project)
    sqlite_project.edit("shop/models.py", PRICE, "")
    before = sqlite_project.files()

    result = sqlite_project.run("makemigrations", "--update")

    assert (result.exit_code, result.stdout) == (0, "No changes detected\n")
    assert sqlite_project.files() == before


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("none", "Error: There is no migration to update yet. Run 'manage makemigrations' "
         "without --update.\n"),
        ("sql", "Error: The latest migration migrations/0002_data.py runs SQL or reads data "
         "(op.execute or op.get_bind), which --update would lose when it writes the migration "
         "anew. Run 'manage makemigrations' without --update.\n"),
        ("check", "Error: --update cannot be combined with --check, --dry-run, --empty, "
         "--merge or --sql.\n"),
    ],
)  # fmt: skip
def test_update_refusals(sqlite_project: Project, setup: str, message: str) -> None:
    if setup == "sql":
        sqlite_project.run("makemigrations")
        sqlite_project.run("makemigrations", "--empty", "-n", "data")
        sqlite_project.edit(
            "migrations/0002_data.py", "def upgrade() -> None:\n    pass",
            "def upgrade() -> None:\n    op.execute('UPDATE book SET title = title')",
        )  # fmt: skip
    extra = ["--check"] if setup == "check" else []

    result = sqlite_project.run("makemigrations", "--update", *extra)

    assert (result.exit_code, result.stderr) == (2 if setup == "check" else 3, message)


def test_update_keeps_an_answered_rename(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    assert sqlite_project.run("migrate").exit_code == 0
    sqlite_project.edit("shop/models.py", "    title:", "    name:")
    answer = ["--rename", "book.title=book.name"]
    assert sqlite_project.run("makemigrations", "--no-input", *answer).exit_code == 0
    sqlite_project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + PRICE)

    result = sqlite_project.run("makemigrations", "--update", "--no-input")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == [
        "    ~ Rename column book.title to name",
        "    + Add column price to book",
    ]
    display = make_url(sqlite_project.database_url).render_as_string(hide_password=True)
    assert result.stderr == (
        f"Only the database at {display} was checked: make sure no other database "
        "(a teammate's, staging, production) has applied the migration --update rewrote.\n"
    )
    [latest] = sqlite_project.migrations()[1:]
    text = (sqlite_project.root / "migrations" / latest).read_text()
    assert "- book.title was renamed to book.name (--rename book.title=book.name)" in text
    assert 'new_column_name="name"' in text
    assert 'drop_column("title")' not in text
