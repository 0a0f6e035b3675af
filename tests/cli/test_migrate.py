"""migrate: one transaction per migration, heads, targets, and revisions missing on disk."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.conftest import Project

MIGRATION = '''
"""{doc}"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))
    {extra}


def downgrade() -> None:
    op.drop_table("{table}")
'''


def add_migration(
    project: Project, rev: str, down: str | None, table: str, extra: str = ""
) -> None:
    project.write(
        f"migrations/{rev}.py",
        MIGRATION.format(doc=rev, rev=rev, down=down, table=table, extra=extra or "pass"),
    )


def test_each_migration_commits_alone_and_a_failure_names_the_migration(project: Project) -> None:
    add_migration(project, "0001_first", None, "first")
    add_migration(project, "0002_second", "0001_first", "second")
    add_migration(
        project, "0003_broken", "0002_second", "third", 'op.execute("SELECT * FROM no_such_table")'
    )

    result = project.run("migrate")

    assert result.exit_code == 3
    assert result.stdout.splitlines()[-3:] == [
        "  Applying 0001_first... OK",
        "  Applying 0002_second... OK",
        "  Applying 0003_broken...",
    ]
    note, error = result.stderr.split("\n", 1)  # issue 15: why it is not fast-forwarded
    assert note == (
        "Applying step by step, not in one pass: Migration 0003_broken runs SQL of its own or "
        "reads rows (op.execute or op.get_bind()), which the replay cannot repeat exactly."
    )
    assert error.startswith(
        "Error: Migration 0003_broken (migrations/0003_broken.py, line 12) failed while applying "
        'op.execute("SELECT * FROM no_such_table"): '
    )
    assert "no_such_table" in result.stderr
    assert "Traceback" not in result.output
    assert project.version() == {"0002_second"}
    if project.dialect == "mariadb":
        assert "third" in project.tables(), "MariaDB cannot roll DDL back"
        assert "MySQL/MariaDB cannot roll back DDL" in result.stderr
    else:
        assert "third" not in project.tables()
        assert "Its changes were rolled back" in result.stderr
    assert {"first", "second"} <= project.tables()


def test_several_heads_stop_migrate_and_name_the_fix(project: Project) -> None:
    add_migration(project, "0001_first", None, "first")
    add_migration(project, "0002_a", "0001_first", "a")
    add_migration(project, "0002_b", "0001_first", "b")

    result = project.run("migrate")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: Conflicting migrations: the history has several heads (0002_a, 0002_b). "
        "Run 'manage makemigrations --merge' to write a merge migration.\n"
    )
    assert project.tables() <= {"alembic_version"}


def test_an_unknown_target_lists_the_nearest_ids(sqlite_project: Project) -> None:
    add_migration(sqlite_project, "0001_first", None, "first")
    add_migration(sqlite_project, "0002_second", "0001_first", "second")

    result = sqlite_project.run("migrate", "0003")
    typo = sqlite_project.run("migrate", "0002_secnd")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: Unknown migration '0003'. Nearest valid ids: 0001_first, 0002_second. "
        "Run 'manage showmigrations' to list them.\n"
    )
    assert typo.exit_code == 3
    assert "Nearest valid ids: 0002_second." in typo.stderr
    assert not (sqlite_project.root / "db.sqlite3").exists()


def test_an_ambiguous_prefix_is_refused(sqlite_project: Project) -> None:
    add_migration(sqlite_project, "0001_first", None, "first")
    add_migration(sqlite_project, "0002_second", "0001_first", "second")

    result = sqlite_project.run("migrate", "000")

    assert result.exit_code == 3
    assert "Migration '000' is ambiguous: it could be 0001_first, 0002_second." in result.stderr


def test_a_database_at_a_revision_missing_on_disk(project: Project) -> None:
    add_migration(project, "0001_first", None, "first")
    add_migration(project, "0002_second", "0001_first", "second")
    project.run("migrate")
    (project.root / "migrations/0002_second.py").unlink()

    refused = project.run("migrate")
    shown = project.run("showmigrations")
    faked = project.run("migrate", "0001", "--fake")

    assert refused.exit_code == 3
    assert refused.stderr.startswith(
        "Error: The database is at revision '0002_second', which is not in migrations/. "
        "Restore that migration file"
    )
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines() == [
        " [?] 0001_first (head)",
        " [X] 0002_second (missing: recorded in the database, no file in migrations/)",
    ]
    assert "no migration file has that id" in shown.stderr
    assert faked.exit_code == 0, faked.output
    assert project.version() == {"0001_first"}
    assert project.run("migrate").exit_code == 0


def test_showmigrations_plan_json_and_empty(sqlite_project: Project) -> None:
    empty = sqlite_project.run("showmigrations")
    add_migration(sqlite_project, "0001_first", None, "first")
    add_migration(sqlite_project, "0002_second", "0001_first", "second")
    sqlite_project.run("migrate", "0001")

    plan = sqlite_project.run("-v", "2", "showmigrations", "--plan")
    as_json = sqlite_project.run("showmigrations", "--json")

    assert empty.stdout == " (no migrations)\n"
    first, second = plan.stdout.splitlines()
    assert first.startswith("[X]  0001_first  applied ")  # tests/cli/test_history.py: the rest
    assert second == "[ ]  0002_second ... (0001_first) (head)"
    import json

    rows = json.loads(as_json.stdout)
    assert [(r["id"], r["applied"], r["head"], r["missing"]) for r in rows] == [
        ("0001_first", True, False, False),
        ("0002_second", False, True, False),
    ]
    assert rows[1]["down_revisions"] == ["0001_first"]
    assert (rows[0]["edited"], rows[1]["applied_at"]) == (False, None)
    assert rows[0]["applied_at"].startswith("20")
    assert rows[1]["path"] == str(sqlite_project.root / "migrations/0002_second.py")


def test_showmigrations_does_not_create_a_sqlite_database(sqlite_project: Project) -> None:
    add_migration(sqlite_project, "0001_first", None, "first")

    result = sqlite_project.run("showmigrations")

    assert result.stdout == " [ ] 0001_first (head)\n"
    assert not (sqlite_project.root / "db.sqlite3").exists()


def test_version_table_in_a_chosen_schema(make_project: Any) -> None:
    """``version_table_schema`` puts Alembic's version table in that schema (PostgreSQL), made
    when missing; migrate, the check and unapplying all find it there."""
    project: Project = make_project("postgresql")
    project.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\nversion_table_schema = "meta"',
    )
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "alembic_version" in inspector.get_table_names(schema="meta")
        assert "alembic_version" not in inspector.get_table_names()
        rows = connection.exec_driver_sql("SELECT version_num FROM meta.alembic_version")
        assert [row[0] for row in rows] == ["0001_initial"]
    engine.dispose()
    assert project.run("migrate").stdout.splitlines()[-1] == "  No migrations to apply."
    assert project.run("makemigrations", "--check").exit_code == 0
    assert project.run("migrate", "zero").exit_code == 0
    assert project.tables() == set()
