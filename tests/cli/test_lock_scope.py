"""Issue 12 point 13: the migration lock covers the whole database, whatever the version table.

Two projects sharing one database through different version tables (and sharing manage's history
table) used to take different locks: on MariaDB their DDL then collided ("... skipped since its
definition is being modified by concurrent DDL statement", exit 3, in 3 of 11 rounds measured).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from manage.core.database import connect
from manage.core.locking import migration_lock
from tests.cli.test_locking import WAITING, start, wait_for
from tests.conftest import PROJECTS, Project

ROUNDS = 10
TWINRUN = Path(__file__).parent / "twinrun.py"
TABLES = ["author", "book", "shelf", "loan", "tag"]

MIGRATION = '''
"""{rev}"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    op.create_table("{prefix}_{table}", sa.Column("id", sa.Integer, primary_key=True){fk})


def downgrade() -> None:
    op.drop_table("{prefix}_{table}")
'''


def sharing_project(root: Path, prefix: str) -> Path:
    """A project whose five migrations create ``<prefix>_*`` tables, its versions recorded in
    ``<prefix>_version``: another project's tables and version table never clash with it."""
    shutil.copytree(PROJECTS / "shop", root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'version_table = "{prefix}_version"\n')
    down = None
    for number, table in enumerate(TABLES, start=1):
        rev = f"{number:04d}_{table}"
        fk = f', sa.Column("ref", sa.Integer, sa.ForeignKey("{prefix}_author.id"))'
        text = MIGRATION.format(
            rev=rev, down=down, prefix=prefix, table=table, fk=fk if number > 1 else ""
        )
        (root / "migrations").mkdir(exist_ok=True)
        (root / "migrations" / f"{rev}.py").write_text(text)
        down = rev
    return root


def versions(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return {
                row[0] for row in connection.exec_driver_sql(f"SELECT version_num FROM {table}")
            }
    finally:
        engine.dispose()


def test_two_version_tables_migrating_one_fresh_database_at_once(
    fresh_database: object, dialect: str, tmp_path: Path
) -> None:
    """Each round: a fresh database, two projects with different version tables, two
    ``manage migrate`` processes started together. Both exit 0 and both version tables hold
    their head (MariaDB: one run exited 3 in 3 of 11 rounds before)."""
    failures: list[tuple[int, str]] = []
    for round_ in range(ROUNDS if dialect != "sqlite" else 3):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        url = fresh_database(dialect, folder)  # type: ignore[operator]
        env = {"DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"}
        requests = [
            {
                "cwd": str(sharing_project(folder / prefix, prefix)),
                "env": env,
                "argv": ["--no-color", "migrate"],
                "log": str(folder / f"{prefix}.log"),
            }
            for prefix in ("a", "b")
        ]
        twins = subprocess.run(
            [sys.executable, str(TWINRUN), json.dumps(requests)],
            capture_output=True,
            text=True,
            timeout=240,
            check=True,
        )
        for code, request in zip(json.loads(twins.stdout), requests, strict=True):
            if code != 0:
                failures.append((round_, Path(request["log"]).read_text()))
        if failures:
            break
        assert versions(url, "a_version") == {"0005_tag"}
        assert versions(url, "b_version") == {"0005_tag"}
    assert failures == []


def test_the_lock_covers_every_version_table(project: Project) -> None:
    """While the database's lock is held, runs with any version table wait for it (before, a
    run with another version table took its own lock and went ahead)."""
    logs = []
    env = {**os.environ, "DATABASE_URL": project.database_url, "PYTHONDONTWRITEBYTECODE": "1"}
    with (
        connect(project.database_url) as connection,
        migration_lock(connection, project.database_url),
    ):
        runs = []
        for prefix in ("a", "b"):
            root = sharing_project(project.root.parent / prefix, prefix)
            logs.append(root / "run")
            runs.append(start(["--no-color", "migrate"], root, logs[-1], env))
        wait_for(lambda: all(WAITING in log.with_suffix(".err").read_text() for log in logs))
        assert project.tables() == set()  # nothing ran while the lock was held
    codes = [run.wait(timeout=120) for run in runs]

    assert codes == [0, 0], [log.with_suffix(".err").read_text() for log in logs]
    assert versions(project.database_url, "a_version") == {"0005_tag"}
    assert versions(project.database_url, "b_version") == {"0005_tag"}
