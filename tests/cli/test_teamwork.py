"""Two branches each add a migration 0003_...: git merges them, manage names the conflict and
``makemigrations --merge`` joins the heads (in a real git repository, on each database)."""

from __future__ import annotations

import subprocess

from tests.conftest import Project

ISBN = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
PUBLISHER = """

class Publisher(Base):
    __tablename__ = "publisher"

    id: Mapped[int] = mapped_column(primary_key=True)
"""


def git(project: Project, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_two_branches_merge_in_git_then_in_manage(project: Project) -> None:
    git(project, "init", "-q", "-b", "main")
    project.write(".gitignore", "*.sqlite3\n__pycache__/\n")
    project.run("makemigrations")
    project.edit("shop/models.py", ISBN, ISBN + "    price: Mapped[int | None]\n")
    project.run("makemigrations")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "0001 and 0002")

    git(project, "checkout", "-q", "-b", "isbn")
    project.edit(
        "shop/models.py", ISBN, ISBN + "    isbn: Mapped[str | None] = mapped_column(String(13))\n"
    )
    assert project.run("makemigrations").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "isbn")
    assert project.run("migrate").exit_code == 0  # this developer's database is at 0003 (isbn)

    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-q", "-b", "publisher")
    project.edit("shop/models.py", "\n\nclass Author(Base):", PUBLISHER + "\n\nclass Author(Base):")
    assert project.run("makemigrations").exit_code == 0
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "publisher")

    git(project, "checkout", "-q", "isbn")
    git(project, "merge", "-q", "--no-edit", "publisher")  # no textual conflict: two new files
    assert project.migrations() == [
        "0001_initial.py",
        "0002_add_book_price.py",
        "0003_add_book_isbn.py",
        "0003_create_publisher.py",
    ]

    conflict = (
        "Error: Conflicting migrations: the history has several heads "
        "(0003_add_book_isbn, 0003_create_publisher). "
        "Run 'manage makemigrations --merge' to write a merge migration.\n"
    )
    for command in (["migrate"], ["migrate", "--plan"], ["makemigrations"]):
        refused = project.run(*command)
        assert (refused.exit_code, refused.stderr) == (3, conflict), command
    assert project.version() == {"0003_add_book_isbn"}

    merged = project.run("makemigrations", "--merge", "--no-input")

    assert merged.exit_code == 0, merged.output
    assert merged.stdout == (
        "Created new merge migration migrations/0004_merge_add_book_i_create_pub.py\n"
    )
    text = (project.root / "migrations/0004_merge_add_book_i_create_pub.py").read_text()
    assert 'down_revision: str | Sequence[str] | None = (\n    "0003_add_book_isbn",' in text
    applied = project.run("migrate")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.splitlines()[-2:] == [
        "  Applying 0003_create_publisher... OK",
        "  Applying 0004_merge_add_book_i_create_pub... OK",
    ]
    assert project.version() == {"0004_merge_add_book_i_create_pub"}
    assert {"publisher", "book"} <= project.tables()
    assert "isbn" in project.columns("book")
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "merge migrations")
    assert git(project, "status", "--porcelain") == ""


def test_merge_is_confirmed_interactively(sqlite_project: Project) -> None:
    sqlite_project.run("makemigrations")
    sqlite_project.run("makemigrations", "--empty", "-n", "a")
    text = (sqlite_project.root / "migrations/0002_a.py").read_text()
    (sqlite_project.root / "migrations/0002_b.py").write_text(text.replace("0002_a", "0002_b"))

    result = sqlite_project.run("makemigrations", "--merge", input="y\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Merge 0002_a, 0002_b? [y/N]: y\n"
        "Created new merge migration migrations/0003_merge_0002_a_0002_b.py\n"
    )
    assert sqlite_project.run("migrate").exit_code == 0
    assert sqlite_project.version() == {"0003_merge_0002_a_0002_b"}
