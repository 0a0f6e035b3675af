"""manage init: writes [tool.manage] for an existing project, finding its Base by reading code."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, Project

BASE = "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
LEGACY = "import sqlalchemy.orm as orm\n\nLegacy = orm.declarative_base()\n"
MODEL = (
    "from sqlalchemy.orm import Mapped, mapped_column\n\nfrom app.db import Base\n\n\n"
    "class Item(Base):\n    __tablename__ = 'item'\n"
    "    id: Mapped[int] = mapped_column(primary_key=True)\n"
)
EXISTING = '[project]\nname = "app"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 99\n'


@pytest.fixture
def app(tmp_path: Path) -> Project:
    """A project without [tool.manage]: one Base in app/db.py, a model in app/models.py, and
    code that must not be scanned (a virtualenv) or imported (a module that raises)."""
    project = Project(tmp_path / "app-project", "", "sqlite")
    project.write("pyproject.toml", EXISTING)
    project.write("app/__init__.py", "")
    project.write("app/db.py", BASE)
    project.write("app/models.py", MODEL)
    project.write("app/boom.py", "raise SystemExit('imported!')\n")
    project.write(".venv/lib/site.py", BASE)
    os.chdir(project.root)
    return project


TABLE = (
    '[tool.manage]\nmodels = "app.db:Base"\n'
    'import = ["app.models"]  # the modules defining models on it\n'
    '# database_url = "sqlite:///db.sqlite3"  # the default; DATABASE_URL wins\n'
    'migrations = "migrations"\n'
)


def test_init_adds_the_table_to_an_existing_pyproject(app: Project) -> None:
    result = app.run("init")

    assert result.exit_code == 0, result.output
    assert (app.root / "pyproject.toml").read_text() == EXISTING + "\n" + TABLE
    assert (app.root / "migrations").is_dir()
    assert result.stdout == (
        "Updated pyproject.toml:\n"
        + "".join(f"  {line}\n" for line in TABLE.splitlines())
        + "Created migrations/\nNext: run 'manage makemigrations' to write the first migration.\n"
    )
    made = app.run("makemigrations")
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[-1].strip() == "+ Create table item"


def test_init_creates_pyproject_when_absent(app: Project) -> None:
    (app.root / "pyproject.toml").unlink()

    result = app.run("init", "--database-url", "postgresql+psycopg://app@db/app")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Created pyproject.toml:\n")
    assert (app.root / "pyproject.toml").read_text() == (
        '[tool.manage]\nmodels = "app.db:Base"\n'
        'import = ["app.models"]  # the modules defining models on it\n'
        'database_url = "postgresql+psycopg://app@db/app"\nmigrations = "migrations"\n'
    )


def test_init_refuses_to_overwrite_a_configuration(app: Project) -> None:
    assert app.run("init").exit_code == 0
    before = app.files()

    result = app.run("init", "--models", "app.db:Base")

    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {app.root / 'pyproject.toml'} already has a [tool.manage] table; manage init "
        "does not overwrite it. Edit the table by hand (see 'manage check').\n"
    )
    assert app.files() == before


def test_init_never_writes_a_password(app: Project) -> None:
    before = app.files()

    result = app.run("init", "--database-url", "postgresql://app:s3cret@db/app")

    assert result.exit_code == 3
    assert "holds a password" in result.stderr and "s3cret" not in result.output
    assert app.files() == before


def test_init_without_a_base_says_how_to_name_it(app: Project) -> None:
    (app.root / "app" / "db.py").write_text("X = 1\n")

    result = app.run("init")

    assert result.exit_code == 3
    assert result.stderr.startswith("Error: Found no declarative Base (a DeclarativeBase ")
    assert result.stderr.endswith("Pass it with --models yourpackage.models:Base.\n")
    assert not (app.root / "migrations").exists()


def test_init_asks_which_base_when_there_are_several(app: Project) -> None:
    app.write("app/legacy.py", LEGACY)

    answered = app.subprocess_input(["init"], "x\n3\n²\n2\n")  # '²' is a digit to isdigit()

    assert answered.returncode == 0, answered.stderr
    assert answered.stderr == (
        "Found several declarative Bases:\n  1. app.db:Base\n  2. app.legacy:Legacy\n"
        "Which one holds your models? [1-2]Error: answer a number from 1 to 2\n"
        "Which one holds your models? [1-2]Error: answer a number from 1 to 2\n"
        "Which one holds your models? [1-2]Error: answer a number from 1 to 2\n"
        "Which one holds your models? [1-2]"
    )
    assert 'models = "app.legacy:Legacy"' in (app.root / "pyproject.toml").read_text()


def test_init_with_several_bases_and_no_input_fails(app: Project) -> None:
    app.write("app/legacy.py", LEGACY)

    result = app.run("init", "--no-input")
    chosen = app.run("init", "--no-input", "--models", "app.legacy:Legacy")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: Found several declarative Bases: app.db:Base, app.legacy:Legacy. "
        "Pass the one holding your models with --models.\n"
    )
    assert chosen.exit_code == 0, chosen.output


def test_init_prompt_on_a_terminal(app: Project) -> None:
    app.write("app/legacy.py", LEGACY)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [str(BIN / "manage"), "init"], cwd=app.root, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    seen = _read_until(master, b"[1-2]")
    os.write(master, b"1\n")
    seen += _read_until(master, b"first migration.")
    assert process.wait(timeout=60) == 0
    os.close(master)

    assert b"2. app.legacy:Legacy" in seen
    assert 'models = "app.db:Base"' in (app.root / "pyproject.toml").read_text()


def _read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    assert marker in data, data
    return data


def test_the_scan_reads_code_without_importing_it(app: Project) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from manage.core.scan import find_bases; print(find_bases('.'))"],
        cwd=app.root,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (result.returncode, result.stdout) == (0, "['app.db:Base']\n")


def test_init_with_a_file_as_migrations_folder_writes_nothing(app: Project) -> None:
    app.write("README.md", "# app\n")
    before = app.files()

    result = app.run("init", "--migrations", "README.md")

    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: --migrations 'README.md' is not a folder: {app.root / 'README.md'} is a file. "
        "Name a folder.\n"
    )
    assert app.files() == before


def test_init_when_the_migrations_folder_cannot_be_made_writes_nothing(app: Project) -> None:
    app.write("notes.txt", "a file where a folder would go\n")
    before = app.files()

    result = app.run("init", "--migrations", "notes.txt/migrations")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: Could not create the migrations folder "
        f"{app.root / 'notes.txt' / 'migrations'}: Not a directory. "
        "Name a folder you can write to with --migrations.\n"
    )
    assert app.files() == before


def test_init_checks_the_database_url(app: Project) -> None:
    before = app.files()

    result = app.run("init", "--database-url", "not a url")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: --database-url 'not a url' is not a database URL. Use the form "
        "dialect+driver://user@host/database, e.g. sqlite:///db.sqlite3.\n"
    )
    assert app.files() == before


def test_init_in_a_folder_of_a_configured_project_refuses(app: Project) -> None:
    assert app.run("init").exit_code == 0
    app.write("app/sub/pyproject.toml", '[project]\nname = "sub"\n')
    before = app.files()
    os.chdir(app.root / "app" / "sub")

    inside = app.run("init", "--models", "app.db:Base")
    without_pyproject = app.run("-C", str(app.root / "app"), "init", "--models", "app.db:Base")

    assert inside.exit_code == 3
    assert inside.stderr == (
        f"Error: {app.root / 'pyproject.toml'} has a [tool.manage] table, which applies to "
        f"'{app.root / 'app' / 'sub'}' too; a second table here would shadow it. Run manage in "
        f"'{app.root}' (or with -C {app.root}), or remove that table first if this folder is a "
        "project of its own.\n"
    )
    assert without_pyproject.exit_code == 3
    assert "a second table here would shadow it" in without_pyproject.stderr
    assert app.files() == before


def test_call_command_runs_init(app: Project) -> None:
    import manage

    result = manage.call_command("init", models="app.db:Base")

    assert result.models == "app.db:Base" and result.created_migrations
    assert (app.root / "pyproject.toml").read_text() == EXISTING + "\n" + TABLE


def test_init_on_a_full_disk_leaves_pyproject_as_it_was(app: Project) -> None:
    """Issue 12 point 3's class: pyproject.toml was rewritten in place, so a full disk left it
    cut inside the new table (``models = "app.db:Base`` unterminated: every later command then
    failed to parse it). A file-size limit fails the write as a full disk does."""
    import resource
    import signal

    limit = 4000
    original = EXISTING + "# " + "x" * (limit - len(EXISTING) - 60) + "\n"
    app.write("pyproject.toml", original)

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = subprocess.run(
        [str(BIN / "manage"), "--no-color", "init"],
        cwd=app.root,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,
    )

    assert run.returncode == 3, run.stderr
    assert run.stderr == (
        f"Error: Could not write {app.root / 'pyproject.toml'}: File too large. It was left as "
        "it was. Free some space, then run manage init again.\n"
    )
    assert (app.root / "pyproject.toml").read_text() == original
    assert sorted(p.name for p in app.root.iterdir()) == [".venv", "app", "pyproject.toml"]
