"""A repeated makemigrations --check is answered from a cache while nothing that decides the answer
changed, without importing SQLAlchemy; every such change is noticed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Project

EXAMPLE = Path(__file__).parents[2] / "example_project"


@pytest.fixture
def bookshop(tmp_path: Path) -> Project:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    return Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")


def check(project: Project, **env: str) -> tuple[int, str, bool]:
    """(exit code, stdout, whether SQLAlchemy was imported) of ``python -m manage makemigrations
    --check`` as a new process."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "manage", "makemigrations", "--check"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    return result.returncode, result.stdout, imported_sqlalchemy(result.stderr)


def imported_sqlalchemy(importtime: str) -> bool:
    """Whether ``python -X importtime`` output lists the sqlalchemy package (nested or not)."""
    return any(line.split("|")[-1].strip() == "sqlalchemy" for line in importtime.splitlines())


def test_an_unchanged_project_is_answered_without_importing_sqlalchemy(bookshop: Project) -> None:
    first = check(bookshop)
    second = check(bookshop)

    assert first == (0, "No changes detected\n", True)
    assert second == (0, "No changes detected\n", False)


def test_model_and_migration_changes_are_noticed(bookshop: Project) -> None:
    check(bookshop)
    models = bookshop.root / "bookshop/models.py"
    models.write_text(
        models.read_text().replace(
            "    borrower: Mapped[str]",
            "    note: Mapped[str | None] = mapped_column(String(100))\n    borrower: Mapped[str]",
        )
    )

    changed, cached = check(bookshop), check(bookshop)

    expected = (
        "Model changes without a migration:\n"
        "    + Add column note to loan\n"
        "Run 'manage makemigrations' to write migrations/0005_add_loan_note.py.\n"
    )
    assert changed == (1, expected, True)
    assert cached == (1, expected, False)
    assert bookshop.subprocess("makemigrations").returncode == 0
    assert check(bookshop) == (0, "No changes detected\n", True)
    migration = bookshop.root / "migrations/0005_add_loan_note.py"
    migration.write_text(migration.read_text().replace("batch_op.add_column(", "str("))
    assert check(bookshop)[:2] == (1, expected.replace("0005_add_loan_note", "0006_add_loan_note"))


def test_settings_environment_and_dotenv_changes_are_noticed(bookshop: Project) -> None:
    check(bookshop)

    other_database = check(bookshop, DATABASE_URL="postgresql+psycopg://app:pw@127.0.0.1:1/shop")
    (bookshop.root / ".env").write_text("SOMETHING=1\n")
    dotenv = check(bookshop)
    pyproject = bookshop.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'exclude_tables = ["legacy_*"]\n')
    settings = check(bookshop)

    assert other_database == (0, "No changes detected\n", True)
    assert dotenv == (0, "No changes detected\n", True)
    assert settings == (0, "No changes detected\n", True)
    assert check(bookshop) == (0, "No changes detected\n", False)


def test_the_cache_holds_no_password(bookshop: Project, tmp_path: Path) -> None:
    url = "postgresql+psycopg://app:Sup3rSecretPw@127.0.0.1:1/shop"
    check(bookshop, DATABASE_URL=url)

    assert check(bookshop, DATABASE_URL=url) == (0, "No changes detected\n", False)
    cached = [p for p in (tmp_path / "user-cache").rglob("*") if p.is_file()]
    assert cached
    for path in cached:
        assert b"Sup3rSecretPw" not in path.read_bytes(), path


def test_the_replayed_history_is_cached_for_the_next_model_change(
    bookshop: Project, tmp_path: Path
) -> None:
    check(bookshop)
    replayed = list((tmp_path / "user-cache/sqlalchemy-manage/replay").glob("*.pickle"))
    models = bookshop.root / "bookshop/models.py"
    models.write_text(models.read_text().replace("String(250)", "String(260)"))

    result = check(bookshop)

    assert len(replayed) == 1
    assert result[:2] == (
        1,
        "Model changes without a migration:\n"
        "    ~ Alter column name on author (type VARCHAR(250) -> VARCHAR(260))\n"
        "Run 'manage makemigrations' to write migrations/0005_alter_author_name.py.\n",
    )
    assert list((tmp_path / "user-cache/sqlalchemy-manage/replay").glob("*.pickle")) == replayed


def test_global_options_bypass_the_remembered_answer(bookshop: Project) -> None:
    check(bookshop)
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "manage",
            "-v",
            "1",
            "makemigrations",
            "--check",
        ],
        cwd=bookshop.root,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0
    assert imported_sqlalchemy(result.stderr)
