"""A repeated makemigrations --check is answered from a cache while nothing that decides the answer
changed, without importing SQLAlchemy; every such change is noticed."""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Project

EXAMPLE = Path(__file__).parents[2] / "example_project"


@pytest.fixture
def bookshop(tmp_path: Path) -> Project:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    # Compiled as by an earlier run: a folder that gains __pycache__ during a run has changed
    # during it, and that run's answer is not remembered.
    compileall.compile_dir(root / "bookshop", quiet=1)
    return Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")


def aged(path: Path, text: str) -> None:
    """Write ``text`` as an edit made a few seconds ago (answers are not remembered for files
    changed within a second of a run's start)."""
    path.write_text(text)
    stamp = path.stat().st_mtime_ns - 5_000_000_000
    os.utime(path, ns=(stamp, stamp))


def check(project: Project, **env: str) -> tuple[int, str, bool]:
    """(exit code, stdout, whether SQLAlchemy was imported) of ``python -m manage makemigrations
    --check`` as a new process. Waits out the time within which a file just written is not
    trusted by its stamps (manage.core.answers.FINE_SLACK_NS), so each run may remember."""
    time.sleep(0.15)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "manage", "makemigrations", "--check"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    return result.returncode, result.stdout, imported(result.stderr, "sqlalchemy")


def imported(importtime: str, package: str) -> bool:
    """Whether ``python -X importtime`` output lists ``package`` (nested or not)."""
    return any(line.split("|")[-1].strip() == package for line in importtime.splitlines())


def test_an_unchanged_project_is_answered_without_importing_sqlalchemy(bookshop: Project) -> None:
    first = check(bookshop)
    second = check(bookshop)

    assert first == (0, "No changes detected\n", True)
    assert second == (0, "No changes detected\n", False)


def test_model_and_migration_changes_are_noticed(bookshop: Project) -> None:
    check(bookshop)
    models = bookshop.root / "bookshop/models.py"
    aged(
        models,
        models.read_text().replace(
            "    borrower: Mapped[str]",
            "    note: Mapped[str | None] = mapped_column(String(100))\n    borrower: Mapped[str]",
        ),
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
    aged(migration, migration.read_text().replace("batch_op.add_column(", "str("))
    assert check(bookshop)[:2] == (1, expected.replace("0005_add_loan_note", "0006_add_loan_note"))


def test_a_model_edit_that_keeps_its_size_and_mtime_is_noticed(bookshop: Project) -> None:
    models = bookshop.root / "bookshop/models.py"
    text = models.read_text()
    aged(models, text)
    check(bookshop)
    assert check(bookshop) == (0, "No changes detected\n", False)
    before = models.stat()

    # The same number of bytes, and the old modification time put back (as cp -p or an
    # editor keeping times would): only the change time and the bytes differ.
    models.write_text(text.replace("String(250)", "String(260)"))
    os.utime(models, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert models.stat().st_size == before.st_size

    assert check(bookshop)[:2] == (
        1,
        "Model changes without a migration:\n"
        "    ~ Alter column name on author (type VARCHAR(250) -> VARCHAR(260))\n"
        "Run 'manage makemigrations' to write migrations/0005_alter_author_name.py.\n",
    )


def test_settings_environment_and_dotenv_changes_are_noticed(bookshop: Project) -> None:
    check(bookshop)

    other_database = check(bookshop, DATABASE_URL="postgresql+psycopg://app:pw@127.0.0.1:1/shop")
    aged(bookshop.root / ".env", "SOMETHING=1\n")
    dotenv = check(bookshop)
    pyproject = bookshop.root / "pyproject.toml"
    aged(pyproject, pyproject.read_text() + 'exclude_tables = ["legacy_*"]\n')
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
    aged(models, models.read_text().replace("String(250)", "String(260)"))

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
    assert imported(result.stderr, "sqlalchemy")


def test_a_project_below_a_dot_folder_still_notices_model_edits(tmp_path: Path) -> None:
    root = tmp_path / ".worktrees" / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    check(project)
    models = root / "bookshop/models.py"
    aged(models, models.read_text().replace("String(250)", "String(260)"))

    assert check(project)[0] == 1


def test_a_database_url_from_dotenv_is_remembered(bookshop: Project) -> None:
    aged(bookshop.root / ".env", "DATABASE_URL=sqlite:///other.sqlite3\n")
    check(bookshop)

    assert check(bookshop) == (0, "No changes detected\n", False)


def test_a_module_imported_by_a_migration_is_part_of_the_replay_cache(bookshop: Project) -> None:
    aged(bookshop.root / "bookshop/limits.py", "NAME = 250\n")
    migration = bookshop.root / "migrations/0004_alter_author_name.py"
    aged(
        migration,
        migration.read_text()
        .replace(
            "from alembic import op\n",
            "from alembic import op\n\nfrom bookshop.limits import NAME\n",
        )
        .replace("type_=sa.String(length=250)", "type_=sa.String(length=NAME)"),
    )
    assert check(bookshop)[:2] == (0, "No changes detected\n")
    aged(bookshop.root / "bookshop/limits.py", "NAME = 260\n")

    result = check(bookshop)

    assert result[0] == 1
    assert "~ Alter column name on author (type VARCHAR(260) -> VARCHAR(250))" in result[1]


def test_an_answer_is_not_remembered_when_a_file_changed_during_the_run(bookshop: Project) -> None:
    import time

    from manage.core.answers import Answer, remember, remembered

    migrations = bookshop.root / "migrations"
    started = time.time_ns()
    (migrations / "0004_alter_author_name.py").touch()  # edited while the check ran

    remember(
        bookshop.root,
        migrations,
        Answer("No changes detected\n", 0),
        started_ns=started,
        database_url=None,
    )

    assert remembered(bookshop.root) is None
