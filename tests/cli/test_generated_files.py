"""Generated migrations are formatted and lint-clean, import the project's own column types, and
name the constraints the models leave unnamed (no warning needed)."""

from __future__ import annotations

import subprocess

from tests.conftest import BIN, Project

TYPES = '''
"""The shop's own column types."""

from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.types import TypeDecorator


class Money(TypeDecorator[Decimal]):
    impl = Numeric(12, 2)
    cache_ok = True


class Isbn(TypeDecorator[str]):
    impl = String
    cache_ok = True
'''
AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
CUSTOM = (
    AUTHOR_ID
    + "    price: Mapped[object] = mapped_column(Money())\n"
    + "    isbn: Mapped[str | None] = mapped_column(Isbn(13))\n"
)


def ruff(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ruff"), *args, "--no-cache", "migrations"],
        cwd=project.root,
        capture_output=True,
        text=True,
    )


def test_custom_types_render_with_their_import(project: Project) -> None:
    project.write("shop/types.py", TYPES)
    project.edit(
        "shop/models.py",
        "from sqlalchemy.orm",
        "from shop.types import Isbn, Money\nfrom sqlalchemy.orm",
    )
    project.edit("shop/models.py", AUTHOR_ID, CUSTOM)

    made = project.run("makemigrations")
    applied = project.run("migrate")

    assert made.exit_code == 0, made.output
    text = (project.root / "migrations/0001_initial.py").read_text()
    assert "\nimport shop.types\n" in text
    assert 'sa.Column("price", shop.types.Money(precision=12, scale=2), nullable=False)' in text
    assert applied.exit_code == 0, applied.output
    assert {"price", "isbn"} <= set(project.columns("book"))
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"


def test_generated_migrations_pass_ruff(project: Project) -> None:
    project.run("makemigrations")
    project.edit("shop/models.py", "    title: Mapped[str] = mapped_column(String(200))\n", "")
    project.run("makemigrations")  # drops only: nothing uses sa.
    project.run("makemigrations", "--empty", "-n", "by_hand")

    checked = ruff(project, "check")
    formatted = ruff(project, "format", "--check")

    assert project.migrations() == [
        "0001_initial.py",
        "0002_remove_book_title.py",
        "0003_by_hand.py",
    ]
    assert checked.returncode == 0, checked.stdout
    assert formatted.returncode == 0, formatted.stdout
    text = (project.root / "migrations/0001_initial.py").read_text()
    assert 'revision: str = "0001_initial"' in text
    by_hand = (project.root / "migrations/0003_by_hand.py").read_text()
    assert "from alembic import op  # noqa: F401\n" in by_hand, "kept for the user to fill in"
    assert not (project.root / ".ruff_cache").exists()


def test_unnamed_constraints_need_no_warning(project: Project) -> None:
    """The unnamed foreign key is created, then dropped by the name its database gave it and
    created again in the downgrade under the name manage gives it (issue 16): no warning."""
    made = project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_ID, "")
    project.edit(
        "shop/models.py",
        "from sqlalchemy import ForeignKey, String",
        "from sqlalchemy import String",
    )
    dropped = project.run("makemigrations", "-n", "no_author")

    assert (made.exit_code, made.stderr) == (0, "")
    # The drop is lint's business (M301/M307 on the servers, issue 14), not a naming warning.
    assert dropped.exit_code == 0
    lines = dropped.stderr.splitlines()
    assert all(line.startswith(("  ~ line ", "  Review it with")) for line in lines), lines
    assert project.run("migrate").exit_code == 0
    assert project.run("migrate", "0001", "--allow-data-loss").exit_code == 0
    assert project.run("migrate").exit_code == 0
    assert "author_id" not in project.columns("book")


def test_a_failing_formatter_is_a_notice(sqlite_project: Project) -> None:
    pyproject = sqlite_project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.ruff]\nline-length = "wide"\n')

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert sqlite_project.migrations() == ["0001_initial.py"]
    assert "Notice" not in result.stdout
    [notice] = [line for line in result.stderr.splitlines() if "could not format" in line]
    assert notice.startswith("ruff could not format 0001_initial.py (exit 2: ")
    assert notice.endswith(
        "it is written unformatted. Fix the formatter's configuration, then run "
        "'ruff format' on it."
    )


def test_without_ruff_an_unused_sa_import_is_dropped() -> None:
    """With black alone (no ruff check --fix), a drop-only migration keeps no unused import."""
    from manage.core.formatting import _drop_unused_sa

    migration = (
        "import sqlalchemy as sa\nfrom alembic import op\n\n\ndef upgrade() -> None:\n"
        '    op.drop_table("tag")\n'
    )
    kept = (
        "import sqlalchemy as sa\nfrom alembic import op\n\n\ndef upgrade() -> None:\n"
        '    op.add_column("tag", sa.Column("x", sa.Integer()))\n'
    )

    assert "import sqlalchemy" not in _drop_unused_sa(migration)
    assert "import sqlalchemy as sa" in _drop_unused_sa(kept)
