"""The migration lock: many ``manage migrate`` at once, each migration run exactly once."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from manage.core.database import connect
from manage.core.locking import migration_lock
from tests.conftest import BIN, Project

RUNS = 8
WAITING = "Waiting for another manage migrate to finish..."

# Each upgrade writes one row to audit_log, so the rows count how often each one ran.
AUDITED = '''
"""{rev}"""

import pytest
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    {create}
    op.execute("INSERT INTO audit_log (revision) VALUES ('{rev}')")


def downgrade() -> None:
    {drop}
'''

HISTORY = [
    (
        "0001_audit_log",
        None,
        'op.create_table("audit_log", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("revision", sa.String(32)))',
        'op.drop_table("audit_log")',
    ),
    (
        "0002_author",
        "0001_audit_log",
        'op.create_table("author", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("name", sa.String(100), nullable=False))',
        'op.drop_table("author")',
    ),
    (
        "0003_book",
        "0002_author",
        'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("title", sa.String(200), nullable=False), '
        'sa.Column("author_id", sa.Integer, sa.ForeignKey("author.id"), nullable=False))',
        'op.drop_table("book")',
    ),
]


FELL_BACK = (
    "Applying step by step, not in one pass: Migration 0001_audit_log runs SQL of its own or "
    "reads rows (op.execute or op.get_bind()), which the replay cannot repeat exactly."
)


def write_audited_history(project: Project) -> None:
    """Three migrations that build the shop's schema plus an audit_log the models do not own."""
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text() + 'exclude_tables = ["audit_log"]\n')
    for rev, down, create, drop in HISTORY:
        project.write(
            f"migrations/{rev}.py", AUDITED.format(rev=rev, down=down, create=create, drop=drop)
        )


def audit_rows(project: Project) -> list[str]:
    engine = project.engine()
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT revision FROM audit_log ORDER BY id")
        revisions = [row[0] for row in rows]
    engine.dispose()
    return revisions


@contextmanager
def holding_the_lock(project: Project) -> Iterator[None]:
    """Take the migration lock from this process, as another ``manage migrate`` would."""
    with (
        connect(project.database_url) as connection,
        migration_lock(connection, project.database_url),
    ):
        yield


def wait_for(condition: object, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start(args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``manage ARGS`` in the background, its output going to ``log``.out and ``log``.err."""
    with log.with_suffix(".out").open("wb") as out, log.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(
            [str(BIN / "manage"), *args], cwd=cwd, env=env, stdout=out, stderr=err
        )


def test_eight_migrate_runs_at_once_apply_each_migration_once(project: Project) -> None:
    write_audited_history(project)
    logs = [project.root / f"run{i}" for i in range(RUNS)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    # Holding the lock until all eight are waiting makes them truly contend for it.
    with holding_the_lock(project):
        runs = [start(["--no-color", "migrate"], project.root, log, env) for log in logs]
        wait_for(lambda: all(WAITING in log.with_suffix(".err").read_text() for log in logs))
    codes = [run.wait(timeout=120) for run in runs]

    outputs = [log.with_suffix(".out").read_text() for log in logs]
    errors = [log.with_suffix(".err").read_text() for log in logs]
    assert codes == [0] * RUNS, errors
    # The run that finds the database empty says why it is not fast-forwarded (the audit rows).
    assert sorted(errors) == [WAITING + "\n"] * (RUNS - 1) + [WAITING + "\n" + FELL_BACK + "\n"]
    applied = [out for out in outputs if "Applying" in out]
    assert len(applied) == 1, outputs
    assert applied[0].splitlines()[-3:] == [
        "  Applying 0001_audit_log... OK",
        "  Applying 0002_author... OK",
        "  Applying 0003_book... OK",
    ]
    assert sum("  No migrations to apply." in out for out in outputs) == RUNS - 1
    assert audit_rows(project) == ["0001_audit_log", "0002_author", "0003_book"]
    assert project.version() == {"0003_book"}
    assert not Path(f"{project.root / 'db.sqlite3'}-manage-lock").exists()


def test_lock_timeout_gives_up_and_applies_nothing(project: Project) -> None:
    write_audited_history(project)

    with holding_the_lock(project):
        started = time.monotonic()
        result = project.run("migrate", "--lock-timeout", "0.5")
        waited = time.monotonic() - started

    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    assert result.stderr == (
        f"{WAITING}\n"
        f"Error: Another manage migrate held the migration lock on {project.url_in_effect} for "
        "more than 0.5 seconds. Wait for it to finish and run migrate again, or raise "
        "--lock-timeout.\n"
    )
    assert 0.5 <= waited < 10
    assert project.version() == set()
    assert "audit_log" not in project.tables()


def test_a_run_at_head_takes_no_lock(project: Project) -> None:
    write_audited_history(project)
    assert project.run("migrate").exit_code == 0

    with holding_the_lock(project):
        result = project.run("migrate", "--lock-timeout", "0")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == "  No migrations to apply."


def test_the_migrations_connection_may_autocommit_while_locked(project: Project) -> None:
    """A session lock survives a migration's autocommit block (CREATE INDEX CONCURRENTLY)."""
    write_audited_history(project)
    project.write(
        "migrations/0004_index.py",
        '''
        """0004_index"""

        from alembic import op

        revision = "0004_index"
        down_revision = "0003_book"


        def upgrade() -> None:
            with op.get_context().autocommit_block():
                op.create_index(
                    "ix_book_title", "book", ["title"],
                    postgresql_concurrently=True,
                )
            op.execute("INSERT INTO audit_log (revision) VALUES ('0004_index')")


        def downgrade() -> None:
            op.drop_index("ix_book_title", "book")
        ''',
    )

    result = project.run("migrate")

    assert result.exit_code == 0, result.output
    assert audit_rows(project)[-1] == "0004_index"
    engine = project.engine()
    with engine.connect() as connection:
        assert "ix_book_title" in {i["name"] for i in sa.inspect(connection).get_indexes("book")}
    engine.dispose()


def test_a_lock_file_left_by_another_user_does_not_block(sqlite_project: Project) -> None:
    """The SQLite lock file of another OS user's killed run (0644: not writable by us) is
    opened read-only, which is enough for flock. The tests run as root, which ignores mode bits,
    so an immutable file (chattr +i) stands in for one we may not write."""
    write_audited_history(sqlite_project)
    lock_file = Path(f"{sqlite_project.root / 'db.sqlite3'}-manage-lock")
    lock_file.touch()
    if subprocess.run(["chattr", "+i", str(lock_file)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        result = sqlite_project.run("migrate")
    finally:
        subprocess.run(["chattr", "-i", str(lock_file)], check=True)

    assert result.exit_code == 0, result.output
    assert audit_rows(sqlite_project) == ["0001_audit_log", "0002_author", "0003_book"]


def test_eight_migrate_runs_at_once_fast_forward_the_empty_database_once(
    project: Project,
) -> None:
    """Issue 15: the run that takes the lock first fast-forwards; the others find the database
    at head when they get the lock (the emptiness is judged under the lock)."""
    for rev, down, create, drop in HISTORY[1:]:
        text = AUDITED.format(rev=rev, down=down, create=create, drop=drop)
        text = text.replace("down_revision = '0001_audit_log'", "down_revision = None")
        text = "\n".join(line for line in text.splitlines() if "audit_log" not in line)
        project.write(f"migrations/{rev}.py", text)
    logs = [project.root / f"run{i}" for i in range(RUNS)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with holding_the_lock(project):
        runs = [start(["--no-color", "migrate"], project.root, log, env) for log in logs]
        wait_for(lambda: all(WAITING in log.with_suffix(".err").read_text() for log in logs))
    codes = [run.wait(timeout=120) for run in runs]

    outputs = [log.with_suffix(".out").read_text() for log in logs]
    errors = [log.with_suffix(".err").read_text() for log in logs]
    assert codes == [0] * RUNS, errors
    assert errors == [WAITING + "\n"] * RUNS
    done = [out for out in outputs if "Fast-forwarded" in out]
    assert len(done) == 1, outputs
    assert done[0].splitlines()[-1] == "  Fast-forwarded 2 migrations to 0003_book in one pass."
    assert sum("  No migrations to apply." in out for out in outputs) == RUNS - 1
    assert project.tables() == {"alembic_version", "author", "book"}
    assert project.version() == {"0003_book"}
