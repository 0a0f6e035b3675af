"""Revision ids Alembic reads as something else (``head``, ``base``, ``""``...) are refused by
name, and ``manage check`` flags one the version table cannot hold."""

from __future__ import annotations

import pytest

from tests.conftest import Project

MIGRATION = '''
"""x"""

revision = {rev}
down_revision = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''

RESERVED = ["", "  ", "head", "heads", "base", "zero", "current"]


@pytest.mark.parametrize("rev_id", RESERVED)
def test_a_reserved_revision_id_is_refused_naming_the_file(
    sqlite_project: Project, rev_id: str
) -> None:
    sqlite_project.write("migrations/0001_initial.py", MIGRATION.format(rev=repr(rev_id)))
    before = sqlite_project.files()

    for command in (["showmigrations"], ["migrate"], ["makemigrations", "--check"]):
        result = sqlite_project.run(*command)

        assert result.exit_code == 3, (command, result.output)
        assert result.stdout == ""
        assert result.stderr == (
            f"Error: Migration migrations/0001_initial.py has revision = {rev_id!r}, which "
            "Alembic reads as a keyword (head, heads, base, zero, current, or empty), not as "
            "a migration. Use the file's name without .py, '0001_initial' (and fix any "
            "down_revision that points at it).\n"
        )
    assert sqlite_project.files() == before
    assert not sqlite_project.database_exists()


def test_an_empty_revision_id_does_not_unapply(project: Project) -> None:
    """With ``revision = ""`` migrate used to plan an unapply of everything."""
    project.write("migrations/0001_initial.py", MIGRATION.format(rev='"0001_initial"'))
    assert project.run("migrate").exit_code == 0
    project.write(
        "migrations/0002_more.py",
        MIGRATION.format(rev='""').replace(
            "down_revision = None", 'down_revision = "0001_initial"'
        ),
    )

    result = project.run("migrate")

    assert result.exit_code == 3
    assert "migrations/0002_more.py has revision = ''" in result.stderr
    assert project.version() == {"0001_initial"}


def test_check_flags_an_id_longer_than_the_version_table_holds(sqlite_project: Project) -> None:
    long_id = "0001_" + "a" * 30
    sqlite_project.write(f"migrations/{long_id}.py", MIGRATION.format(rev=repr(long_id)))

    result = sqlite_project.run("check")

    assert result.exit_code == 1  # a failed check
    assert (
        f"[FAIL] migration files: Migration migrations/{long_id}.py has revision = "
        f"{long_id!r} (35 characters), longer than the 32 that the version table "
        "alembic_version holds: PostgreSQL and MariaDB refuse to record it. Shorten it (and fix "
        "any down_revision that points at it)."
    ) in result.stdout.splitlines()
