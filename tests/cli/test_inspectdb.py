"""manage inspectdb: models for a legacy database, then adopt it with migrate --fake-initial."""

from __future__ import annotations

import subprocess
import sys

from tests.cli.test_fake_initial import LEGACY, legacy
from tests.conftest import Project


def test_adopt_a_legacy_database(project: Project) -> None:
    legacy(project, LEGACY)
    project.edit("pyproject.toml", 'models = "shop.models:Base"', 'models = "shop.legacy:Base"')

    inspected = project.run("inspectdb", "-o", "shop/legacy.py")
    made = project.run("makemigrations")
    adopted = project.run("migrate", "--fake-initial")
    check = project.run("makemigrations", "--check")

    assert inspected.exit_code == 0, inspected.output
    assert inspected.stdout == "Wrote 2 tables to shop/legacy.py\n"
    code = (project.root / "shop" / "legacy.py").read_text()
    assert "class Author(Base):\n    __tablename__ = 'author'\n" in code
    assert "author: Mapped['Author'] = relationship('Author', back_populates='book')" in code
    assert made.exit_code == 0, made.output
    assert adopted.stdout.splitlines()[-1] == "  Applying 0001_initial... FAKED"
    assert (check.exit_code, check.stdout) == (0, "No changes detected\n")
    assert project.version() == {"0001_initial"}


def test_inspectdb_prints_chosen_tables_and_leaves_out_manages_own_tables(
    sqlite_project: Project,
) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    assert sqlite_project.run("migrate").exit_code == 0

    result = sqlite_project.run("inspectdb")
    one = sqlite_project.run("inspectdb", "author")
    missing = sqlite_project.run("inspectdb", "nope")

    assert result.exit_code == 0, result.output
    assert "class Book(Base):" in result.stdout and "alembic_version" not in result.stdout
    assert "manage_migration_history" not in result.stdout
    assert "ManageMigrationHistory" not in result.stdout
    assert "class Author(Base):" in one.stdout and "Book" not in one.stdout
    assert missing.exit_code == 3
    assert missing.stderr.startswith("Error: Could not reflect: requested table(s) not available")
    assert "nope" in missing.stderr


def test_inspectdb_without_sqlacodegen_says_how_to_install_it(sqlite_project: Project) -> None:
    script = (
        "import sys; sys.modules['sqlacodegen'] = None  # as if not installed\n"
        "from manage.cli import main; sys.argv = ['manage', 'inspectdb']; main()"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=sqlite_project.root, capture_output=True, text=True
    )

    assert result.returncode == 3
    assert result.stderr == (
        "Error: manage inspectdb needs sqlacodegen, which is not installed. "
        "Install it with: pip install 'sqlalchemy-manage[inspectdb]'.\n"
    )


def test_inspectdb_to_a_path_it_cannot_write_says_so(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    assert sqlite_project.run("migrate").exit_code == 0
    sqlite_project.write("notes.txt", "a file where a folder would go\n")

    result = sqlite_project.run("inspectdb", "-o", "notes.txt/models.py")

    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr.startswith("Error: Could not write notes.txt/models.py: ")
    assert result.stderr.endswith(". Name a file you can write.\n")
