"""The history table: each apply and unapply recorded with its hash; edited files reported."""

from __future__ import annotations

import getpass
import hashlib
import re
import socket
from datetime import datetime, timezone

import sqlalchemy as sa

from manage.core.history import history_table
from tests.cli.test_locking import write_audited_history
from tests.conftest import Project


def history(project: Project) -> list[tuple[str, str, str, datetime, int, str, str]]:
    engine = project.engine()
    with engine.connect() as connection:
        table = history_table
        rows = connection.execute(
            sa.select(
                table.c.revision,
                table.c.direction,
                table.c.checksum,
                table.c.started_at,
                table.c.duration_ms,
                table.c.host,
                table.c.username,
            ).order_by(table.c.id)
        )
        found = [tuple(row) for row in rows]
    engine.dispose()
    return found  # type: ignore[return-value]


def sha256(project: Project, revision: str) -> str:
    return hashlib.sha256((project.root / f"migrations/{revision}.py").read_bytes()).hexdigest()


def test_history_records_each_step_and_reports_edited_files(project: Project) -> None:
    write_audited_history(project)
    before = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)

    assert project.run("migrate").exit_code == 0
    assert project.run("migrate", "0002").exit_code == 0
    assert project.run("migrate", "0003", "--fake").exit_code == 0

    rows = history(project)
    assert [(r[0], r[1]) for r in rows] == [
        ("0001_audit_log", "apply"),
        ("0002_author", "apply"),
        ("0003_book", "apply"),
        ("0003_book", "unapply"),
        ("0003_book", "fake apply"),
    ]
    for revision, _direction, checksum, started_at, duration_ms, host, username in rows:
        assert checksum == sha256(project, revision)
        assert before <= started_at <= datetime.now(timezone.utc).replace(tzinfo=None)
        assert 0 <= duration_ms < 10_000
        assert (host, username) == (socket.gethostname(), getpass.getuser())
    assert project.version() == {"0003_book"}, "the version table is still Alembic's own"

    # The history table is manage's, never the models': no change to migrate.
    check = project.run("makemigrations", "--check")
    assert (check.exit_code, check.stdout) == (0, "No changes detected\n")
    shadow = project.run("makemigrations", "--dry-run")
    assert (shadow.exit_code, shadow.stdout) == (0, "No changes detected\n")

    shown = project.run("-v", "2", "showmigrations")
    assert shown.exit_code == 0, shown.output
    by = re.escape(f"{getpass.getuser()}@{socket.gethostname()}")
    applied = r" \[X\] {rev}  applied \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC by " + by + r" in \d+ ms"
    faked = r" \[X\] 0003_book \(head\)  faked \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by " + by
    lines = shown.stdout.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(applied.format(rev="0001_audit_log"), lines[0]), lines[0]
    assert re.fullmatch(applied.format(rev="0002_author"), lines[1]), lines[1]
    assert re.fullmatch(faked, lines[2]), lines[2]
    assert project.run("showmigrations").stdout.splitlines() == [
        " [X] 0001_audit_log",
        " [X] 0002_author",
        " [X] 0003_book (head)",
    ]

    applied_hash = sha256(project, "0002_author")
    project.edit("migrations/0002_author.py", "String(100)", "String(120)")
    edited_hash = sha256(project, "0002_author")

    shown = project.run("showmigrations")
    checked = project.run("check", "--database")

    warning = (
        "Warning: migration 0002_author (migrations/0002_author.py) was edited after it was "
        f"applied: sha256 {applied_hash} when applied, {edited_hash} now. The database has what "
        "the old file did: revert the edit, and put further changes in a new migration."
    )
    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[1] == " [X] 0002_author (edited after it was applied)"
    assert shown.stderr == warning + "\n"
    assert checked.exit_code == 1, "the edit also makes the models and migrations differ"
    assert f"         {warning}" in checked.stdout.splitlines()
    assert "[OK]   database at head: at 0003_book" in checked.stdout.splitlines()


def test_check_warns_about_an_edited_migration_but_passes(sqlite_project: Project) -> None:
    write_audited_history(sqlite_project)
    assert sqlite_project.run("migrate").exit_code == 0
    sqlite_project.edit("migrations/0001_audit_log.py", '"""0001_audit_log"""', '"""Audit."""')

    checked = sqlite_project.run("check", "--database")

    assert checked.exit_code == 0, checked.output
    assert "Warning: migration 0001_audit_log (migrations/0001_audit_log.py) was edited" in (
        checked.stdout
    )
    assert checked.stdout.splitlines()[-1] == "System check identified no issues."


def test_projects_sharing_a_database_keep_their_own_history(sqlite_project: Project) -> None:
    """Two version tables in one database: each project sees its own rows only."""
    project = sqlite_project
    write_audited_history(project)
    assert project.run("migrate").exit_code == 0
    # Project B: its own version table and migrations, one with an id that A has too.
    project.write(
        "other/0001_audit_log.py",
        '''
        """B's first migration, with an id that A has too."""

        import sqlalchemy as sa
        from alembic import op

        revision = "0001_audit_log"
        down_revision = None


        def upgrade() -> None:
            op.create_table("b_table", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade() -> None:
            op.drop_table("b_table")
        ''',
    )
    pyproject = project.root / "pyproject.toml"
    a_settings = pyproject.read_text()
    b_settings = a_settings + 'version_table = "b_version"\nmigrations = "other"\n'

    pyproject.write_text(b_settings)
    b_applied = project.run("migrate")
    b_unapplied = project.run("migrate", "zero", "--allow-data-loss")
    pyproject.write_text(a_settings)
    a_shown = project.run("-v", "2", "showmigrations")

    assert b_applied.exit_code == 0, b_applied.output
    assert b_unapplied.exit_code == 0, b_unapplied.output
    assert a_shown.exit_code == 0, a_shown.output
    assert "edited" not in a_shown.output, "B's file is not an edit of A's"
    assert re.match(r" \[X\] 0001_audit_log  applied ", a_shown.stdout), a_shown.stdout
    assert [(r[0], r[1]) for r in history(project)][-2:] == [
        ("0001_audit_log", "apply"),
        ("0001_audit_log", "unapply"),
    ]


def test_a_history_table_from_before_version_table_gets_the_column(
    sqlite_project: Project,
) -> None:
    write_audited_history(sqlite_project)
    engine = sqlite_project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE manage_migration_history (id INTEGER PRIMARY KEY, revision VARCHAR(255) "
            "NOT NULL, direction VARCHAR(16) NOT NULL, checksum VARCHAR(64), started_at DATETIME "
            "NOT NULL, duration_ms INTEGER NOT NULL, host VARCHAR(255), username VARCHAR(255))"
        )
    engine.dispose()

    result = sqlite_project.run("migrate")

    assert result.exit_code == 0, result.output
    assert [(r[0], r[1]) for r in history(sqlite_project)] == [
        ("0001_audit_log", "apply"),
        ("0002_author", "apply"),
        ("0003_book", "apply"),
    ]


def test_a_version_table_value_that_is_no_revision_id_is_one_message(
    sqlite_project: Project,
) -> None:
    """The version table is read by one rule (manage.light.history.current_heads) on every path:
    a value that is not text names the table and the fix, exit 3, on the full path too."""
    assert sqlite_project.run("makemigrations").exit_code == 0
    assert sqlite_project.run("migrate").exit_code == 0
    engine = sqlite_project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = X'0102'")
    engine.dispose()

    result = sqlite_project.run("showmigrations")

    assert result.exit_code == 3
    assert result.stderr.startswith("Error: alembic_version in sqlite:///")
    assert result.stderr.endswith(
        " holds a value that is not a revision id. Fix or empty the table.\n"
    )
    assert "Traceback" not in result.stderr


def test_the_history_table_columns_are_the_query_s() -> None:
    """core.history reads HISTORY_QUERY's columns by position into history_table's types."""
    from manage.light.history import HISTORY_COLUMNS

    assert tuple(history_table.c.keys()) == HISTORY_COLUMNS
