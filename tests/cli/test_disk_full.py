"""A full disk while writing migration files: exit 3, one message, the folder as it was.

A file-size limit (``RLIMIT_FSIZE``) in the child process fails a write the way a full disk
does (``EFBIG`` instead of ``ENOSPC``), so the tests need no small filesystem.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess

import pytest

from tests.conftest import BIN, Project

LIMIT = 40_000
"""Bytes a file may grow to: more than a shadow SQLite database needs, less than the migration
that adds WIDE (its column comments are stored in no SQLite file)."""
COMMENT = "c" * 900
WIDE = "".join(
    f'    note_{i}: Mapped[str | None] = mapped_column(String(20), comment="{COMMENT}")\n'
    for i in range(60)
)
AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
ISBN = "    isbn: Mapped[str | None] = mapped_column(String(13))\n"


def limited(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage ARGS`` in a new process that may write no file bigger than LIMIT."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    return subprocess.run(
        [str(BIN / "manage"), "--no-color", *args],
        cwd=project.root,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


def full_disk_error() -> str:
    return (
        "Error: Could not write the new migration: File too large. Nothing was changed in "
        "migrations/. Free some space, then run the command again.\n"
    )


def test_makemigrations_on_a_full_disk_writes_nothing(project: Project) -> None:
    assert project.run("makemigrations").exit_code == 0
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + WIDE)
    before = project.files()

    run = limited(project, "makemigrations", "-n", "notes")

    assert run.returncode == 3, run.stderr
    assert run.stderr.endswith(full_disk_error()), run.stderr
    assert "Traceback" not in run.stderr
    assert project.files() == before
    assert project.run("makemigrations", "-n", "notes").exit_code == 0  # then the disk has room


def test_makemigrations_update_on_a_full_disk_keeps_the_latest_migration(
    project: Project,
) -> None:
    assert project.run("makemigrations").exit_code == 0
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + ISBN)
    assert project.run("makemigrations", "-n", "isbn").exit_code == 0
    project.edit("shop/models.py", ISBN, ISBN + WIDE)
    before = project.files()

    run = limited(project, "makemigrations", "--update", "-n", "isbn_notes")

    assert run.returncode == 3, run.stderr
    assert run.stderr.endswith(full_disk_error()), run.stderr
    assert "Traceback" not in run.stderr
    assert project.files() == before


@pytest.mark.parametrize("keep", [False, True])
def test_squashmigrations_on_a_full_disk_keeps_the_originals(project: Project, keep: bool) -> None:
    assert project.run("makemigrations").exit_code == 0
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + WIDE)
    assert project.run("makemigrations", "-n", "notes").exit_code == 0
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + ISBN)
    made = project.run("makemigrations", "-n", "isbn")
    assert made.exit_code == 0, made.output
    before = project.files()

    run = limited(project, "squashmigrations", "0003", "--no-input", *(["--keep"] if keep else []))

    assert run.returncode == 3, run.stderr
    assert run.stderr.endswith(full_disk_error()), run.stderr
    assert "Traceback" not in run.stderr
    assert project.files() == before
    assert not (project.root / "migrations/squashed_0001_0003").exists()
    assert project.run("makemigrations", "--check").exit_code == 0


def test_inspectdb_on_a_full_disk_leaves_no_models_file(sqlite_project: Project) -> None:
    """``inspectdb -o FILE`` writes the whole file or none: a rerun after freeing space works."""
    columns = ", ".join(
        f"column_number_{i} VARCHAR(20) DEFAULT 'a default value'" for i in range(400)
    )
    with sqlite3.connect(sqlite_project.database_url.removeprefix("sqlite:///")) as db:
        db.execute(f"CREATE TABLE legacy_wide (id INTEGER PRIMARY KEY, {columns})")
    before = sqlite_project.files()

    run = limited(sqlite_project, "inspectdb", "-o", "shop/legacy.py")

    assert run.returncode == 3, run.stderr
    assert run.stderr.endswith(
        "Error: Could not write shop/legacy.py: File too large. Nothing was written. "
        "Free some space, then run the command again.\n"
    ), run.stderr
    assert "Traceback" not in run.stderr
    assert sqlite_project.files() == before
    rerun = sqlite_project.run("inspectdb", "-o", "shop/legacy.py")
    assert rerun.exit_code == 0, rerun.output
    assert "column_number_399" in (sqlite_project.root / "shop" / "legacy.py").read_text()
