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
