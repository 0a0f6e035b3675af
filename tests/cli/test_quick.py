"""Plain ``manage showmigrations`` and ``manage migrate`` at head are answered without Typer,
SQLAlchemy or Alembic (manage/quick.py), with exactly the full CLI's output; every other case falls
through to the full CLI.

Each comparison runs the console script's path (``python -m manage``, through manage/launcher.py)
and the full CLI (``manage.cli.main``) as new processes on the same database, and tells from
``python -X importtime`` which path answered.
"""

from __future__ import annotations

import json
import os
import pty
import shlex
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_check_cache import imported
from tests.conftest import Project

FULL_CLI = "import sys; from manage.cli import main; sys.argv[0] = 'manage'; main()"
HEAVY = ("typer", "sqlalchemy", "alembic")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    heavy: tuple[str, ...] = ()
    """Which of typer, sqlalchemy and alembic the process imported."""

    @property
    def shown(self) -> tuple[int, str, str]:
        return self.code, self.stdout, self.stderr


def run(project: Project, *args: str, full: bool = False, env: dict[str, str] | None = None) -> Run:
    command = ["-c", FULL_CLI] if full else ["-X", "importtime", "-m", "manage"]
    result = subprocess.run(
        [sys.executable, *command, *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    lines = result.stderr.splitlines(keepends=True)
    stderr = "".join(line for line in lines if not line.startswith("import time:"))
    heavy = tuple(name for name in HEAVY if imported(result.stderr, name))
    return Run(result.returncode, result.stdout, stderr, heavy)


def database(project: Project) -> Path:
    return project.root / "db.sqlite3"


def compare(project: Project, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run ``manage ARGS`` both ways on the same database state; assert the same output and exit
    code; return the console script's run."""
    path = database(project)
    saved = path.read_bytes() if path.exists() else None
    quick = run(project, *args, env=env)
    for left in (path, path.with_name(path.name + "-journal")):
        left.unlink(missing_ok=True)
    if saved is not None:
        path.write_bytes(saved)
    reference = run(project, *args, full=True, env=env)
    assert quick.shown == reference.shown
    return quick


FAST = ()
FULL = HEAVY


def migrations(project: Project, *names: str) -> None:
    """``manage makemigrations`` for the models, then an empty migration per name."""
    assert project.run("makemigrations").exit_code == 0
    for name in names:
        result = project.run("makemigrations", "--empty", "-n", name)
        assert result.exit_code == 0, result.output


@pytest.fixture
def shop(sqlite_project: Project) -> Project:
    migrations(sqlite_project, "second", "third")
    return sqlite_project


FORMS = [("showmigrations",), ("showmigrations", "--plan"), ("--no-color", "showmigrations")]


def test_a_missing_database_is_answered_fast_and_not_created(shop: Project) -> None:
    for form in FORMS:
        assert compare(shop, *form).heavy == FAST, form
    assert compare(shop, "showmigrations").stdout == (
        " [ ] 0001_initial\n [ ] 0002_second\n [ ] 0003_third (head)\n"
    )
    assert not database(shop).exists()
    assert compare(shop, "migrate").heavy == FULL, "migrate applies: the full CLI"


def test_an_empty_database_and_an_empty_history(sqlite_project: Project) -> None:
    (sqlite_project.root / "migrations").mkdir()
    sqlite3.connect(database(sqlite_project)).close()

    shown = compare(sqlite_project, "showmigrations")
    migrated = compare(sqlite_project, "migrate")

    assert shown.shown == (0, " (no migrations)\n", "")
    assert migrated.stdout.endswith("  No migrations to apply.\n")
    assert (shown.heavy, migrated.heavy) == (FAST, FAST)


def test_partly_applied_and_at_head(shop: Project) -> None:
    assert shop.run("migrate", "0002").exit_code == 0

    partly = [compare(shop, *form) for form in FORMS]
    applying = compare(shop, "migrate")
    assert shop.run("migrate").exit_code == 0
    at_head = [compare(shop, *form) for form in FORMS]
    migrated = compare(shop, "migrate")
    assert shop.run("migrate", "zero").exit_code == 0
    unapplied = compare(shop, "showmigrations")

    assert [r.heavy for r in partly + at_head] == [FAST] * 6
    assert partly[0].stdout == " [X] 0001_initial\n [X] 0002_second\n [ ] 0003_third (head)\n"
    assert partly[1].stdout == "[X]  0001_initial\n[X]  0002_second\n[ ]  0003_third (head)\n"
    assert applying.heavy == FULL
    assert migrated.shown == (
        0,
        "Operations to perform:\n  Apply all migrations\nRunning migrations:\n"
        "  No migrations to apply.\n",
        "",
    )
    assert migrated.heavy == FAST
    assert unapplied.stdout.count("[ ]") == 3
    assert unapplied.heavy == FAST


def test_a_revision_unknown_on_disk(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    (shop.root / "migrations/0003_third.py").unlink()

    shown = compare(shop, "showmigrations")
    planned = compare(shop, "showmigrations", "--plan")
    refused = compare(shop, "migrate")

    assert shown.stdout.splitlines() == [
        " [?] 0001_initial",
        " [?] 0002_second (head)",
        " [X] 0003_third (missing: recorded in the database, no file in migrations/)",
    ]
    assert "The database records 0003_third, but no migration file has that id" in shown.stderr
    assert (shown.heavy, planned.heavy) == (FAST, FAST)
    assert (refused.code, refused.heavy) == (3, FULL)


def test_an_edited_migration_is_reported_as_the_full_cli_does(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    shop.edit(
        "migrations/0002_second.py",
        "def upgrade() -> None:\n",
        "def upgrade() -> None:\n    # edited\n",
    )

    shown = compare(shop, "showmigrations")
    migrated = compare(shop, "migrate")

    assert shown.stdout.splitlines()[1] == " [X] 0002_second (edited after it was applied)"
    assert shown.stderr.startswith(
        "Warning: migration 0002_second (migrations/0002_second.py) was edited after it was "
        "applied: sha256 "
    )
    assert (shown.heavy, migrated.heavy) == (FAST, FAST)


def test_a_merge_falls_through(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    assert compare(shop, "showmigrations").heavy == FAST
    # A branch from 0002, and the merge of both heads.
    branch = (shop.root / "migrations/0003_third.py").read_text()
    branch = branch.replace("0003_third", "0003_other")
    (shop.root / "migrations/0003_other.py").write_text(branch)
    assert shop.run("makemigrations", "--merge", "--no-input").exit_code == 0

    shown = compare(shop, "showmigrations")
    applying = compare(shop, "migrate")
    assert shop.run("migrate").exit_code == 0
    at_head = compare(shop, "migrate")
    shown_at_head = compare(shop, "showmigrations")

    assert "0004_merge" in shown.stdout
    assert [shown.heavy, applying.heavy, at_head.heavy, shown_at_head.heavy] == [FULL] * 4
    assert at_head.stdout.endswith("  No migrations to apply.\n")


@pytest.mark.parametrize(
    "change",
    [
        "import shop.models\n",  # a project module: its import could fail
        "from alembic import opp\n",  # a name that may not exist
        "replaces = ['0001_initial']\n",  # a squashed migration
        "depends_on = '0001_initial'\n",
        "def broken(:\n",  # a syntax error: the full CLI reports it
        "upgrade = None\n",
    ],
)
def test_migrations_this_shortcut_cannot_vouch_for_fall_through(shop: Project, change: str) -> None:
    assert shop.run("migrate").exit_code == 0
    assert compare(shop, "showmigrations").heavy == FAST
    path = shop.root / "migrations/0002_second.py"
    path.write_text(path.read_text() + "\n" + change)

    shown = compare(shop, "showmigrations")
    migrated = compare(shop, "migrate")

    assert (shown.heavy, migrated.heavy) == (FULL, FULL)


def test_settings_dotenv_and_environment(shop: Project, tmp_path: Path) -> None:
    pyproject = shop.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + 'database_url = "sqlite:///data/shop.sqlite3"\nversion_table = "shop_version"\n'
    )
    (shop.root / "data").mkdir()
    assert shop.run("migrate", "0001").exit_code == 0
    (shop.root / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path}/other.sqlite3\n")
    other = {"DATABASE_URL": f"sqlite:///{tmp_path}/third.sqlite3"}
    shutil.copy(shop.root / "data/shop.sqlite3", tmp_path / "third.sqlite3")

    from_env = compare(shop, "showmigrations", env=other)
    from_dotenv = compare(shop, "showmigrations")
    (shop.root / ".env").unlink()
    from_settings = compare(shop, "showmigrations")
    server = compare(
        shop, "showmigrations", env={"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"}
    )

    assert from_env.stdout.startswith(" [X] 0001_initial\n [ ] 0002_second")
    assert from_dotenv.stdout.startswith(" [ ] 0001_initial\n")
    assert from_settings.stdout == from_env.stdout
    assert [from_env.heavy, from_dotenv.heavy, from_settings.heavy] == [FAST] * 3
    assert (server.code, server.heavy) == (3, FULL)
    assert "pw" not in server.stderr
    assert not (tmp_path / "other.sqlite3").exists()


def test_the_fast_path_imports_neither_typer_sqlalchemy_alembic_nor_the_models(
    shop: Project,
) -> None:
    assert shop.run("migrate").exit_code == 0

    for args in (["showmigrations"], ["migrate"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "manage", *args],
            cwd=shop.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        for name in (*HEAVY, "shop.models", "shop", "pydantic", "click"):
            assert not imported(result.stderr, name), (args, name)


def test_the_parsed_history_is_remembered_by_content(shop: Project, tmp_path: Path) -> None:
    def remembered() -> dict[str, object]:
        (path,) = (tmp_path / "user-cache/sqlalchemy-manage/quick").glob("*.json")
        entries: dict[str, object] = json.loads(path.read_text())["entries"]
        return entries

    assert compare(shop, "showmigrations").heavy == FAST
    first = remembered()
    third = (shop.root / "migrations/0003_third.py").read_text()
    shop.write(
        "migrations/0004_fourth.py",
        third.replace("0003_third", "0004_fourth").replace('"0002_second"', '"0003_third"'),
    )
    added = compare(shop, "showmigrations")

    assert sorted(map(tuple, first.values())) == [  # type: ignore[arg-type]
        ("0001_initial", None),
        ("0002_second", "0001_initial"),
        ("0003_third", "0002_second"),
    ]
    assert len(remembered()) == 4
    assert added.stdout.endswith(" [ ] 0003_third\n [ ] 0004_fourth (head)\n")
    assert added.heavy == FAST


def test_the_history_table_is_read_by_one_rule() -> None:
    """The table's name, its columns and the reading of its rows come from manage.light.history
    for both paths."""
    from manage import quick
    from manage.core import history
    from manage.light import history as shared

    assert quick.HISTORY_TABLE is history.HISTORY_TABLE is shared.HISTORY_TABLE
    assert tuple(c.name for c in history.history_table.columns) == shared.HISTORY_COLUMNS
    assert quick.last_applied is history.last_applied is shared.last_applied


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_servers_fall_through(make_project: object, dialect: str) -> None:
    project: Project = make_project(dialect)  # type: ignore[operator]
    migrations(project, "second")
    assert project.run("migrate").exit_code == 0

    shown = compare(project, "showmigrations")
    migrated = compare(project, "migrate")

    assert shown.stdout == " [X] 0001_initial\n [X] 0002_second (head)\n"
    assert migrated.stdout.endswith("  No migrations to apply.\n")
    assert (shown.heavy, migrated.heavy) == (FULL, FULL)
    # Without DATABASE_URL: the embedded SQLite default, which does not exist yet.
    default = compare(project, "showmigrations", env={"DATABASE_URL": ""})
    assert default.stdout == " [ ] 0001_initial\n [ ] 0002_second (head)\n"
    assert default.heavy == FAST


def on_terminal(project: Project, *args: str, full: bool = False) -> tuple[int, bytes, bool]:
    """(exit code, what a terminal shows, whether SQLAlchemy was imported) of ``manage ARGS``
    with stdout and stderr on a pseudo-terminal, as a user sees it."""
    command = ["-c", FULL_CLI] if full else ["-m", "manage"]
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", *command, *args],
        cwd=project.root,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    lines = b"".join(chunks).splitlines(keepends=True)
    times = b"".join(line for line in lines if line.startswith(b"import time:"))
    shown = b"".join(line for line in lines if not line.startswith(b"import time:"))
    return process.wait(timeout=120), shown, imported(times.decode(), "sqlalchemy")


def test_colours_on_a_terminal_are_the_full_clis(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    shop.edit("migrations/0002_second.py", "    pass\n", "    pass  # edited\n")

    for args in (["showmigrations"], ["migrate"], ["--no-color", "migrate"]):
        quick = on_terminal(shop, *args)
        reference = on_terminal(shop, *args, full=True)

        assert quick[:2] == reference[:2], args
        assert (b"\x1b[" in quick[1]) == (args[0] != "--no-color"), args
        assert (quick[2], reference[2]) == (False, True), args


# -- found in review: cases where the fast path once answered differently ------------------------


def test_a_file_rewritten_while_read_is_not_remembered_under_the_wrong_bytes(shop: Project) -> None:
    """The digest and the parse come from one read of each file: a file changing between two
    reads once stored the new file's ids under the old file's digest, for every later run."""
    from manage import quick

    assert shop.run("migrate").exit_code == 0
    path = shop.root / "migrations/0002_second.py"
    original = path.read_bytes()
    real_read_bytes = Path.read_bytes

    def rewritten_after_first_read(self: Path) -> bytes:
        data = real_read_bytes(self)
        if self == path:  # an editor saving between the two reads
            path.write_bytes(original.replace(b"0002_second", b"0002_other"))
        return data

    Path.read_bytes = rewritten_after_first_read  # type: ignore[method-assign]
    try:
        quick._history(shop.root / "migrations")
    finally:
        Path.read_bytes = real_read_bytes  # type: ignore[method-assign]
    path.write_bytes(original)

    shown = compare(shop, "showmigrations")
    assert shown.stdout == " [X] 0001_initial\n [X] 0002_second\n [X] 0003_third (head)\n"


def test_closed_output_streams_fall_through(shop: Project) -> None:
    """``manage migrate >&-`` (Python then has no sys.stdout): exit 0 as the full CLI does."""
    assert shop.run("migrate").exit_code == 0
    python = shlex.quote(sys.executable)
    for redirect in (">&-", "2>&-"):
        for command in (f"{python} -m manage", f"{python} -c {shlex.quote(FULL_CLI)}"):
            done = subprocess.run(
                ["sh", "-c", f"exec {command} migrate {redirect}"],
                cwd=shop.root,
                capture_output=True,
                timeout=120,
            )
            assert done.returncode == 0, (redirect, command, done.stderr)
            assert b"Traceback" not in done.stderr


def test_a_dotenv_python_dotenv_warns_about_is_left_to_the_full_cli(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    (shop.root / ".env").write_text("this is not valid\n")

    pending = compare(shop, "showmigrations")
    exported = compare(shop, "showmigrations", env={"DATABASE_URL": "sqlite:///db.sqlite3"})

    assert pending.stderr.count("python-dotenv could not parse") == 1
    assert exported.stderr.count("python-dotenv could not parse") == 1
    assert (pending.heavy, exported.heavy) == (FULL, FULL)


def test_a_wal_database_is_left_to_the_full_cli(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    connection = sqlite3.connect(database(shop))
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()

    shown = compare(shop, "showmigrations")

    assert shown.heavy == FULL
    assert sorted(p.name for p in shop.root.glob("db.sqlite3*")) == ["db.sqlite3"]


def test_history_rows_the_full_cli_cannot_read_are_left_to_it(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    connection = sqlite3.connect(database(shop))
    connection.execute("UPDATE manage_migration_history SET started_at = 'garbage'")
    connection.commit()
    connection.close()

    assert run(shop, "showmigrations").heavy == FULL


@pytest.mark.parametrize("folder", ["pct%41", "q?x"])
def test_a_project_folder_with_url_characters_is_left_to_the_full_cli(
    shop: Project, tmp_path: Path, folder: str
) -> None:
    assert shop.run("migrate").exit_code == 0
    moved = tmp_path / folder / "project"
    shutil.copytree(shop.root, moved)
    project = Project(moved, shop.database_url, "sqlite")

    assert run(project, "showmigrations").heavy == FULL


def test_renamed_typing_imports_are_left_to_the_full_cli(shop: Project) -> None:
    assert shop.run("migrate").exit_code == 0
    path = shop.root / "migrations/0002_second.py"
    text = path.read_text().replace(
        "from collections.abc import Sequence", "from typing import Sequence as Union"
    )
    path.write_text(text.replace("str | Sequence[str] | None", "Union[str, None]"))

    shown = compare(shop, "showmigrations")  # Sequence[str, None]: the import fails

    assert (shown.code, shown.heavy) == (3, FULL)
