"""Issue 12 point 18: every quoting of a password in SQL text is hidden."""

from __future__ import annotations

import pytest

from manage.core.redact import redact

SECRET = "Tr0ub4dor"


@pytest.mark.parametrize(
    "sql",
    [
        f"CREATE USER u IDENTIFIED BY '{SECRET}'",
        f"ALTER ROLE u PASSWORD '{SECRET}'",
        f"ALTER ROLE u PASSWORD E'{SECRET}\\'x'",
        f"ALTER ROLE u WITH PASSWORD e'{SECRET}'",
        f"ALTER ROLE u PASSWORD U&'{SECRET}\\0041'",
        f"ALTER ROLE u PASSWORD $${SECRET}$$",
        f"ALTER ROLE u PASSWORD $pw${SECRET} with $$ inside$pw$",
        f"ALTER ROLE u PASSWORD $$multi\nline {SECRET}$$ VALID UNTIL 'infinity'",
        f"SET PASSWORD FOR u = PASSWORD('{SECRET}')",
        f"SELECT dblink_connect('host=db password={SECRET} dbname=shop')",
        f"SELECT dblink_connect('host=db password=''{SECRET} x'' dbname=shop')",
        f"SELECT dblink_connect('myconn', 'dbname=shop PASSWORD = {SECRET}')",
        f"CREATE SERVER s FOREIGN DATA WRAPPER dblink_fdw OPTIONS (password '{SECRET}')",
        f"SELECT dblink_connect('postgresql://app:{SECRET}@db:5432/shop')",
        f"SELECT dblink_connect('postgres://app:{SECRET}@x@db/shop?sslmode=require')",
        f"SELECT dblink_exec('mysql+pymysql://root:{SECRET}@127.0.0.1/', 'x')",
    ],
)
def test_password_is_hidden(sql: str) -> None:
    shown = redact(sql)
    assert SECRET not in shown, shown
    assert "***" in shown


def test_other_sql_is_untouched() -> None:
    sql = "UPDATE book SET title = 'x', price = $$1$$ WHERE note = 'passwords'"
    assert redact(sql) == sql


def test_a_failing_migration_does_not_show_a_uri_password(sqlite_project: object) -> None:
    """A statement holding a libpq URI (dblink_connect('postgresql://app:PW@...')) fails: the
    error names the operation without the password (it was shown whole before)."""
    from tests.conftest import Project

    project: Project = sqlite_project  # type: ignore[assignment]
    project.write(
        "migrations/0001_link.py",
        f"""
        from alembic import op

        revision = "0001_link"
        down_revision = None


        def upgrade() -> None:
            op.execute("SELECT dblink_connect('postgresql://app:{SECRET}@db/shop')")


        def downgrade() -> None:
            pass
        """,
    )

    result = project.run("migrate")

    assert result.exit_code == 3, result.output
    assert "dblink_connect('postgresql://app:***@db/shop')" in result.stderr
    assert SECRET not in result.output
