"""More bad input from production: permissions, locks, odd ids, drivers (exit 3, nothing written).

Cases that need no special setup join tests/cli/test_bad_input.py's table; the rest run as a user
would meet them: a file the process may not read (root drops its override capabilities, as a
deploy user has none), a PostgreSQL role without DDL rights, a SQLite file another process locked.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.cli import test_bad_input as base
from tests.cli.test_bad_input import PASSWORD, Case, env, migration, steps
from tests.conftest import BIN, Project

CASES = [
    Case(
        "migration-imports-a-missing-package",
        lambda p: p.write(
            "migrations/0001_bad.py", "import alembic_utils_nope\nrevision = '0001_bad'\n"
        ),
        ("migrate",),
        "Loading migration file migrations/0001_bad.py failed: ModuleNotFoundError: No module "
        "named 'alembic_utils_nope' ({root}/migrations/0001_bad.py, line 1). Fix the file.",
    ),
    Case(
        "revision-id-with-a-colon",
        lambda p: p.write(
            "migrations/0001_a.py",
            base.MIGRATION.format(rev="0001_a", down=None).replace('"0001_a"', '"0001:a"', 1),
        ),
        ("migrate",),
        "Migration migrations/0001_a.py has revision = '0001:a', which Alembic cannot use: "
        "Character(s) ':' not allowed. Use letters, digits and underscores, e.g. the file's name "
        "without .py (and fix any down_revision that points at it).",
    ),
    Case(
        "empty-settings-module",
        lambda p: p.write("shop/empty_settings.py", ""),
        ("--settings", "shop.empty_settings", "migrate"),
        "Settings module 'shop.empty_settings' has no MODELS. Add MODELS = "
        '"yourpackage.models:Base" (or the Base itself) to it.',
    ),
    Case(
        "url-for-a-postgresql-driver-not-installed",
        env("DATABASE_URL", f"postgresql+pg8000://app:{PASSWORD}@127.0.0.1/shop"),
        ("migrate",),
        "The database driver for postgresql+pg8000:// is not available (No module named "
        "'pg8000'). Install the driver, or name an installed one, e.g. postgresql+psycopg://",
    ),
    Case(
        "url-for-another-driver-not-installed",
        env("DATABASE_URL", f"mssql+pyodbc://app:{PASSWORD}@127.0.0.1/shop"),
        ("showmigrations",),
        "The database driver for mssql+pyodbc:// is not available (No module named 'pyodbc'). "
        "Install the driver for it.",
    ),
    Case(
        "lock-timeout-negative",
        steps(migration("0001_a", None)),
        ("migrate", "--lock-timeout", "-1"),
        "Invalid value for '--lock-timeout': Input should be greater than or equal to 0",
        exit_code=2,
    ),
    Case(
        "lock-timeout-not-a-number",
        steps(migration("0001_a", None)),
        ("migrate", "--lock-timeout", "soon"),
        "Invalid value for '--lock-timeout': Input should be a valid number, unable to parse "
        "string as a number",
        exit_code=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_more_bad_input(sqlite_project: Project, case: Case) -> None:
    base.test_bad_input(sqlite_project, case)


# -- cases that need a real permission, role or lock --------------------------------------------

NO_OVERRIDE = "-dac_override,-dac_read_search"


def run_unprivileged(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage ARGS`` as a process the file permissions apply to (root without its override)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        probe = subprocess.run(
            ["setpriv", "--bounding-set", NO_OVERRIDE, "--inh-caps", NO_OVERRIDE, "true"],
            capture_output=True,
        )
        if probe.returncode != 0:
            pytest.skip("root cannot drop CAP_DAC_OVERRIDE here: permissions would not apply")
        prefix = ["setpriv", "--bounding-set", NO_OVERRIDE, "--inh-caps", NO_OVERRIDE]
    return subprocess.run(
        [*prefix, str(BIN / "manage"), *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def assert_refused(
    project: Project,
    run: Callable[[], tuple[int, str, str]],
    message: str,
) -> None:
    """Exit 3 with exactly ``message``; no traceback, no file written, the database as it was."""
    before_files = project.files()
    before_db = (project.tables(), project.version())
    code, out, err = run()
    assert code == 3, err
    assert out == ""
    assert "Traceback" not in err
    assert err == f"Error: {message.format(root=project.root)}\n"
    assert project.files() == before_files
    assert (project.tables(), project.version()) == before_db


def test_an_unreadable_migrations_folder(sqlite_project: Project) -> None:
    migration("0001_a", None)(sqlite_project)
    folder = sqlite_project.root / "migrations"
    folder.chmod(0)
    try:
        for command in ("migrate", "showmigrations", "makemigrations"):

            def run(command: str = command) -> tuple[int, str, str]:
                done = run_unprivileged(sqlite_project, command)
                return done.returncode, done.stdout, done.stderr

            folder.chmod(0o755)
            before = sqlite_project.files()
            folder.chmod(0)
            code, out, err = run()
            assert (code, out) == (3, ""), err
            assert err == (
                "Error: Cannot read the migrations folder migrations/: permission denied. Let "
                "the user running manage read it (e.g. chmod u+rx migrations), or point the "
                "migrations setting at a folder it can read.\n"
            )
            folder.chmod(0o755)
            assert sqlite_project.files() == before
            assert not (sqlite_project.root / "db.sqlite3").exists()
            folder.chmod(0)
    finally:
        folder.chmod(0o755)


def test_a_read_only_sqlite_file(sqlite_project: Project) -> None:
    migration("0001_a", None)(sqlite_project)
    database = sqlite_project.root / "db.sqlite3"
    sqlite3.connect(database).close()  # an empty database the user may only read
    database.chmod(0o444)

    def run() -> tuple[int, str, str]:
        done = run_unprivileged(sqlite_project, "migrate")
        return done.returncode, done.stdout, done.stderr

    assert_refused(
        sqlite_project,
        run,
        "Could not create the history table manage_migration_history in "
        "sqlite:///{root}/db.sqlite3: attempt to write a readonly database. The SQLite file is "
        "read-only: make the file and its folder writable by the user running manage, then run "
        "again.",
    )
    assert database.read_bytes() == b""


def test_a_locked_sqlite_file(sqlite_project: Project) -> None:
    migration("0001_a", None)(sqlite_project)
    assert sqlite_project.run("migrate", "zero").exit_code == 0
    before_files = sqlite_project.files()
    before_db = (sqlite_project.tables(), sqlite_project.version())
    holder = sqlite3.connect(sqlite_project.root / "db.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        result = sqlite_project.run("migrate")
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()

    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: Could not read alembic_version from sqlite:///{sqlite_project.root}/db.sqlite3: "
        "database is locked. Another connection holds a write lock on the SQLite file (an open "
        "transaction, e.g. in a sqlite3 shell or the running app): end it, then run again.\n"
    )
    assert waited < 15, "SQLite's own busy timeout (5 s), not forever"
    assert sqlite_project.files() == before_files
    assert (sqlite_project.tables(), sqlite_project.version()) == before_db


def test_a_postgresql_user_without_ddl_rights(make_project: Callable[[str], Project]) -> None:
    project = make_project("postgresql")
    migration("0001_a", None)(project)
    url = make_url(project.database_url)
    role = f"manage_limited_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        connection.exec_driver_sql(f"GRANT CONNECT ON DATABASE {url.database} TO {role}")
    limited = url.set(username=role, password=PASSWORD).render_as_string(hide_password=False)
    try:
        os.environ["DATABASE_URL"] = limited
        before = project.files()
        result = project.run("migrate")
        os.environ["DATABASE_URL"] = project.database_url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP OWNED BY {role}")
            connection.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()

    assert result.exit_code == 3
    assert result.stdout == ""
    assert PASSWORD not in result.output
    assert result.stderr == (
        "Error: Could not create the history table manage_migration_history in "
        f"postgresql+psycopg://{role}:***@{url.host}:{url.port}/{url.database}: permission "
        "denied for schema public. The database user may not change the schema: run migrate as "
        "a user that may (e.g. the schema's owner), or grant this one the rights (GRANT CREATE / "
        "ALL PRIVILEGES).\n"
    )
    assert project.files() == before
    assert project.tables() == set()
