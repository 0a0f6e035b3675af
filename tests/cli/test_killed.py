"""A ``manage migrate`` killed with SIGKILL mid-migration: the lock goes, nothing half-recorded."""

from __future__ import annotations

import os
import signal

import pytest

from tests.cli.test_locking import audit_rows, start, wait_for, write_audited_history
from tests.conftest import Project

SLOW = '''
"""slow"""

import os
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0004_slow"
down_revision = "0003_book"


def upgrade() -> None:
    op.create_table("slow", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("INSERT INTO audit_log (revision) VALUES ('0004_slow')")
    if os.environ.get("SLOW_MIGRATION"):
        Path(os.environ["SLOW_MIGRATION"]).touch()
        if op.get_bind().dialect.name == "postgresql":
            op.execute("SELECT pg_sleep(120)")
        else:
            time.sleep(120)


def downgrade() -> None:
    op.drop_table("slow")
'''


def sleeping_in_postgresql(project: Project) -> bool:
    engine = project.engine()
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%%'"
        ).scalar()
    engine.dispose()
    return bool(found)


def advisory_locks(project: Project) -> int:
    engine = project.engine()
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).scalar()
    engine.dispose()
    return int(found or 0)


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_a_killed_migrate_leaves_no_lock_and_nothing_half_recorded(project: Project) -> None:
    write_audited_history(project)
    project.write("migrations/0004_slow.py", SLOW)
    marker = project.root / "sleeping"
    env = {**os.environ, "SLOW_MIGRATION": str(marker)}

    run = start(["--no-color", "migrate"], project.root, project.root / "killed", env)
    wait_for(marker.exists)
    if project.dialect == "postgresql":
        wait_for(lambda: sleeping_in_postgresql(project))
        assert advisory_locks(project) == 1
    run.send_signal(signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL

    if project.dialect == "postgresql":
        wait_for(lambda: advisory_locks(project) == 0, seconds=10)
        wait_for(lambda: not sleeping_in_postgresql(project), seconds=10)
    assert project.version() == {"0003_book"}, "0004 never finished, so it is not recorded"
    assert "slow" not in project.tables()
    assert audit_rows(project) == ["0001_audit_log", "0002_author", "0003_book"]

    again = project.run("migrate", "--lock-timeout", "10")

    assert again.exit_code == 0, again.output
    assert again.stderr == ""
    assert again.stdout.splitlines()[-1] == "  Applying 0004_slow... OK"
    assert project.version() == {"0004_slow"}
    assert audit_rows(project) == ["0001_audit_log", "0002_author", "0003_book", "0004_slow"]


SLEEPS_AFTER_DDL = '''
"""sleeps"""

import sqlalchemy as sa
from alembic import op

revision = "0004_sleeps"
down_revision = "0003_book"


def upgrade() -> None:
    op.create_table("slow", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("SELECT SLEEP(30)")


def downgrade() -> None:
    op.drop_table("slow")
'''


def sleeping_in_mariadb(project: Project) -> bool:
    engine = project.engine()
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM information_schema.processlist "
            "WHERE db = DATABASE() AND info LIKE 'SELECT SLEEP%%'"
        ).scalar()
    engine.dispose()
    return bool(found)


@pytest.mark.parametrize("dialect", ["mariadb"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_migrate_says_what_stayed_applied(project: Project, signum: int) -> None:
    """MariaDB commits DDL itself: a run stopped after CREATE TABLE leaves the table, and says so
    as a failing migration does, keeping the signal's exit code."""
    write_audited_history(project)
    assert project.run("migrate").exit_code == 0
    project.write("migrations/0004_sleeps.py", SLEEPS_AFTER_DDL)

    run = start(["--no-color", "migrate"], project.root, project.root / "stopped", {**os.environ})
    wait_for(lambda: sleeping_in_mariadb(project))
    run.send_signal(signum)
    assert run.wait(timeout=30) == 128 + signum
    err = (project.root / "stopped.err").read_text()

    name = signal.Signals(signum).name
    assert err.startswith(
        f"Error: Migration 0004_sleeps (migrations/0004_sleeps.py, line 12) was stopped ({name}) "
        'while applying op.execute("SELECT SLEEP(30)"). MySQL/MariaDB cannot roll back DDL, so '
        "what these statements of it did before it stopped stays applied: CREATE TABLE `slow` ("
    ), err
    assert err.endswith(
        "The database still records 0003_book: undo those statements by hand (or finish them "
        "and record the migration with 'manage migrate 0004_sleeps --fake'), then run migrate "
        "again.\n"
    ), err
    assert "Traceback" not in err
    assert project.version() == {"0003_book"}
    assert "slow" in project.tables()

    again = project.run("migrate")  # CREATE TABLE slow fails now: the advice fits that

    assert again.exit_code == 3
    assert again.stderr.endswith(
        "No statement of it ran this time; the database records 0003_book. If an earlier run "
        "of it failed or was stopped, what that run's statements did stays applied (its "
        "message listed them): undo them by hand, or finish them and record the migration "
        "with 'manage migrate 0004_sleeps --fake'. Otherwise correct the cause and run migrate "
        "again.\n"
    ), again.stderr
