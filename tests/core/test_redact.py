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
    ],
)
def test_password_is_hidden(sql: str) -> None:
    shown = redact(sql)
    assert SECRET not in shown, shown
    assert "***" in shown


def test_other_sql_is_untouched() -> None:
    sql = "UPDATE book SET title = 'x', price = $$1$$ WHERE note = 'passwords'"
    assert redact(sql) == sql
