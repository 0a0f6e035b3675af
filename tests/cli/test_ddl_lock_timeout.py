"""Issue 14: each DDL statement of ``migrate`` gets a short lock timeout, is retried with backoff,
and a run that cannot get its lock fails naming the statement and the session that blocks it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from manage.core.migrations.ddl_locks import backoff, is_ddl
from tests.conftest import Project, async_url

SERVERS = ["postgresql", "mariadb"]

ADD_ISBN = '''
"""add isbn"""

import sqlalchemy as sa
from alembic import op

revision = "0002_add_isbn"
down_revision = "0001_initial"


def upgrade() -> None:
    op.add_column("book", sa.Column("isbn", sa.String(13), nullable=True))
    op.create_index("ix_book_isbn", "book", ["isbn"])


def downgrade() -> None:
    op.drop_index("ix_book_isbn", table_name="book")
    op.drop_column("book", "isbn")
'''


def _initial(project: Project, settings: str = "") -> None:
    if settings:
        path = project.root / "pyproject.toml"
        path.write_text(path.read_text() + settings)
    assert project.run("makemigrations", "-n", "initial").exit_code == 0
    assert project.run("migrate").exit_code == 0
    project.write("migrations/0002_add_isbn.py", ADD_ISBN)


@contextmanager
def blocker(project: Project, mode: str = "ACCESS SHARE") -> Iterator[tuple[sa.Connection, int]]:
    """A second session holding a lock on ``book`` in an open transaction, as a long report
    query or an idle transaction of the application would."""
    if project.dialect == "postgresql":
        engine = sa.create_engine(
            project.database_url,
            poolclass=sa.pool.NullPool,
            connect_args={"application_name": "blocker"},
        )
    else:
        engine = project.engine()
    connection = engine.connect()
    try:
        if project.dialect == "postgresql":
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            connection.exec_driver_sql(f"LOCK TABLE book IN {mode} MODE")
        else:
            pid = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            connection.exec_driver_sql("SELECT * FROM book").all()
        yield connection, int(pid or 0)
    finally:
        connection.close()
        engine.dispose()


def release_after_a_wait(
    project: Project, connection: sa.Connection, after: float
) -> threading.Thread:
    """End the blocker's transaction ``after`` seconds after a session is first seen waiting
    for a lock in the project's database (so at least one lock timeout has happened whatever
    the machine's load), from a thread that is started already."""
    if project.dialect == "postgresql":
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
    else:
        query = (
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
            "AND STATE = 'Waiting for table metadata lock'"
        )

    def watch() -> None:
        engine = project.engine()
        deadline = time.monotonic() + 60
        with engine.connect() as probe:
            while time.monotonic() < deadline:
                if probe.exec_driver_sql(query).scalar():
                    break
                probe.rollback()
                time.sleep(0.02)
        engine.dispose()
        time.sleep(after)
        connection.commit()

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


@pytest.mark.parametrize("dialect", SERVERS)
def test_migrate_gives_up_naming_the_blocker_and_the_statement(
    make_project: object, dialect: str
) -> None:
    project: Project = make_project(dialect)  # type: ignore[operator]
    _initial(project, "ddl_lock_timeout = 0.2\nddl_retries = 2\n")
    with blocker(project) as (_connection, pid):
        started = time.monotonic()
        result = project.run("migrate")
        elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    *notes, error = result.stderr.splitlines()
    assert error.startswith(
        "Error: Migration 0002_add_isbn (migrations/0002_add_isbn.py, line 11) failed while "
        'applying op.add_column("book", sa.Column("isbn", sa.String(13), nullable=True)): '
        "ALTER TABLE book ADD "
    ), error
    assert "waited for a lock 3 times" in error
    assert f"blocked by (pid {pid}, " in error
    if dialect == "postgresql":
        assert "0.2 s each (ddl_lock_timeout)" in error
        assert "application 'blocker'" in error
        assert "user 'postgres', idle in transaction since " in error
        assert " UTC, last query: LOCK TABLE" in error
        assert "last query: LOCK TABLE book IN ACCESS SHARE MODE" in error
        assert "Its changes were rolled back; the database stays at 0001_initial." in error
        assert f"End the blocking transaction (SELECT pg_terminate_backend({pid}))" in error
    else:  # whole seconds; nothing of the migration ran before the statement that waited
        assert "1 s each (ddl_lock_timeout)" in error
        assert "user 'root', idle in transaction since " in error
        assert "No statement of it ran this time" not in error or "KILL" in error
        assert f"(KILL {pid})" in error
    assert "raise ddl_lock_timeout or ddl_retries" in error
    assert "Traceback" not in result.output
    assert len(notes) == 2, result.stderr  # one per retry, then the error
    assert all(note.startswith("  Lock timeout (") for note in notes)
    assert notes[1].endswith(" s (retry 2 of 2).")
    assert elapsed < 30
    assert "isbn" not in project.columns("book")
    assert project.version() == {"0001_initial"}


@pytest.mark.parametrize("dialect", SERVERS)
def test_migrate_retries_until_the_blocker_ends(make_project: object, dialect: str) -> None:
    project: Project = make_project(dialect)  # type: ignore[operator]
    _initial(project)
    with blocker(project) as (connection, pid):
        # MariaDB waits whole seconds: 0.2 is 1 s there.
        release = release_after_a_wait(project, connection, 0.5 if dialect == "postgresql" else 1.5)
        try:
            result = project.run("migrate", "--ddl-lock-timeout", "0.2", "--ddl-retries", "5")
        finally:
            release.join()
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "  Applying 0002_add_isbn... OK"
    note = result.stderr.splitlines()[0]
    timeout = "0.2" if dialect == "postgresql" else "1"
    assert note.startswith(f"  Lock timeout ({timeout} s) on ALTER TABLE book ADD "), result.stderr
    assert f"blocked by (pid {pid}, " in note
    again = "the migration, rolled back," if dialect == "postgresql" else "it"
    assert f". Trying {again} again in " in note
    assert note.endswith(" s (retry 1 of 5).")
    assert "isbn" in project.columns("book")
    assert project.version() == {"0002_add_isbn"}


def test_bad_settings_and_flags_are_one_message(make_project: object) -> None:
    project: Project = make_project("sqlite")  # type: ignore[operator]
    path = project.root / "pyproject.toml"
    original = path.read_text()
    path.write_text(original + 'ddl_lock_timeout = "2s"\n')
    result = project.run("migrate")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: ddl_lock_timeout (pyproject.toml [tool.manage]) must be a number of seconds "
        "from 0 to 2147483 (0: no limit), e.g. 2.0, not '2s'. Fix the setting.\n"
    )
    path.write_text(original + "ddl_retries = 1.5\n")
    result = project.run("migrate")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: ddl_retries (pyproject.toml [tool.manage]) must be a whole number of retries "
        "from 0 to 100, e.g. 5, not 1.5. Fix the setting.\n"
    )
    path.write_text(original)
    result = project.run("migrate", "--ddl-retries", "-1")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_sqlite_sets_nothing_and_migrates(make_project: object) -> None:
    project: Project = make_project("sqlite")  # type: ignore[operator]
    _initial(project, "ddl_lock_timeout = 0.2\n")
    result = project.run("migrate")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "isbn" in project.columns("book")


def test_what_counts_as_ddl_and_the_backoff() -> None:
    assert is_ddl("ALTER TABLE book ADD COLUMN isbn VARCHAR(13)")
    assert is_ddl("  /* x */ create index concurrently ix on book (isbn)")
    assert is_ddl("-- comment\nDROP TABLE book")
    assert not is_ddl("UPDATE alembic_version SET version_num='0002'")
    assert not is_ddl("SELECT 1")
    delays = [backoff(n) for n in range(1, 8)]
    assert 0.25 <= delays[0] <= 0.5
    assert 4 <= delays[4] <= 8
    assert all(d <= 10 for d in delays)


CONCURRENT_INDEX = '''
"""index isbn concurrently"""

import sqlalchemy as sa
from alembic import op

revision = "0003_index_isbn"
down_revision = "0002_add_isbn"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_book_isbn2", "book", ["isbn"], postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_book_isbn2", table_name="book", postgresql_concurrently=True)
'''


@pytest.mark.parametrize("mode", ["SHARE", "ROW EXCLUSIVE"])
def test_a_statement_of_an_autocommit_block_is_retried_alone(
    make_project: object, mode: str
) -> None:
    """CREATE INDEX CONCURRENTLY runs outside a transaction: the timeout is set (and reset)
    around it, and the statement that did not apply runs again in place. SHARE blocks its
    first lock; ROW EXCLUSIVE (a writer's transaction) lets it create the index and then makes
    it wait for that transaction, and the timeout there leaves an INVALID index, dropped
    before the next try."""
    project: Project = make_project("postgresql")  # type: ignore[operator]
    _initial(project)
    assert project.run("migrate").exit_code == 0
    project.write("migrations/0003_index_isbn.py", CONCURRENT_INDEX)
    with blocker(project, mode) as (connection, pid):
        release = release_after_a_wait(project, connection, 0.5)
        try:
            result = project.run("migrate", "--ddl-lock-timeout", "0.2")
        finally:
            release.join()
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0003_index_isbn...",
        "  Applying 0003_index_isbn... OK",
    ]
    note = result.stderr.splitlines()[0]
    assert note.startswith(
        "  Lock timeout (0.2 s) on CREATE INDEX CONCURRENTLY ix_book_isbn2 ON book (isbn), "
        f"blocked by (pid {pid}, application 'blocker', "
    ), note
    assert ". Trying it again in " in note
    engine = project.engine()
    with engine.connect() as check:
        valid = check.exec_driver_sql(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_book_isbn2'::regclass"
        ).scalar()
    engine.dispose()
    assert valid is True


def _index_valid(project: Project, name: str) -> bool | None:
    engine = project.engine()
    with engine.connect() as check:
        valid = check.exec_driver_sql(
            f"SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{name}')"
        ).scalar()
    engine.dispose()
    return valid  # type: ignore[no-any-return]


def test_an_invalid_index_left_by_a_timed_out_concurrent_build_is_rebuilt(
    make_project: object,
) -> None:
    """The build that timed out after creating its index leaves it INVALID; the next run drops
    it before it builds it again, instead of failing on 'already exists'."""
    project: Project = make_project("postgresql")  # type: ignore[operator]
    _initial(project)
    assert project.run("migrate").exit_code == 0
    project.write("migrations/0003_index_isbn.py", CONCURRENT_INDEX)
    with blocker(project, "ROW EXCLUSIVE"):
        result = project.run("migrate", "--ddl-lock-timeout", "0.2", "--ddl-retries", "0")
    assert result.exit_code == 3, result.output
    assert "CREATE INDEX CONCURRENTLY ix_book_isbn2 ON book (isbn) waited for a lock 1 time, " in (
        result.stderr
    )
    assert _index_valid(project, "ix_book_isbn2") is False
    assert (
        "PostgreSQL left the index ix_book_isbn2 behind, INVALID, as a failed CREATE INDEX "
        "CONCURRENTLY does: the next 'manage migrate' drops it before building it again."
    ) in result.stderr
    result = project.run("migrate")
    assert result.exit_code == 0, result.output
    assert _index_valid(project, "ix_book_isbn2") is True
    assert project.version() == {"0003_index_isbn"}


@pytest.mark.parametrize("dialect", SERVERS)
def test_zero_sets_no_timeout(make_project: object, dialect: str) -> None:
    """``--ddl-lock-timeout 0`` waits as long as it takes, as before (MariaDB's whole seconds
    must not turn 0 into 1)."""
    project: Project = make_project(dialect)  # type: ignore[operator]
    _initial(project)
    with blocker(project) as (connection, _pid):
        release = release_after_a_wait(project, connection, 1.5)
        try:
            result = project.run("migrate", "--ddl-lock-timeout", "0")
        finally:
            release.join()
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == "  Applying 0002_add_isbn... OK"


def test_an_asyncio_driver_retries_without_naming_the_blocker(
    make_project: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """postgresql+asyncpg: the timeouts and retries apply; the lookup of the blockers (a second
    thread) does not, and the note says so rather than naming nobody."""
    pytest.importorskip("asyncpg")
    project: Project = make_project("postgresql")  # type: ignore[operator]
    _initial(project)
    monkeypatch.setenv("DATABASE_URL", async_url(project.database_url, "postgresql"))
    with blocker(project) as (connection, _pid):
        release = release_after_a_wait(project, connection, 0.5)
        try:
            result = project.run("migrate", "--ddl-lock-timeout", "0.2")
        finally:
            release.join()
    assert result.exit_code == 0, result.output
    note = result.stderr.splitlines()[0]
    assert note.startswith(
        "  Lock timeout (0.2 s) on ALTER TABLE book ADD COLUMN isbn VARCHAR(13), blocked by "
        "another session (not looked up with an asyncio driver). Trying the migration, rolled "
        "back, again in "
    ), note
    assert "isbn" in project.columns("book")


def test_a_settings_module_sets_them_in_capitals(make_project: object) -> None:
    """DDL_LOCK_TIMEOUT / DDL_RETRIES in a Django-style settings module, shown by ``-v 2`` with
    their source; a wrong type there is one message too."""
    project: Project = make_project("sqlite")  # type: ignore[operator]
    project.write(
        "shop/settings.py",
        'MODELS = "shop.models:Base"\nDDL_LOCK_TIMEOUT = 0.5\nDDL_RETRIES = 1\n',
    )
    result = project.run("--settings", "shop.settings", "-v", "2", "migrate")
    assert result.exit_code == 0, result.output
    assert "0.5 s, 1 retries  (settings module shop.settings)" in result.stderr, result.stderr
    project.write("shop/settings.py", 'MODELS = "shop.models:Base"\nDDL_RETRIES = "5"\n')
    result = project.run("--settings", "shop.settings", "migrate")
    assert result.exit_code == 3
    assert result.stderr == (
        "Error: ddl_retries (settings module shop.settings) must be a whole number of retries "
        "from 0 to 100, e.g. 5, not '5'. Fix the setting.\n"
    )
