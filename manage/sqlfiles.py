"""Run the ``.sql`` files beside a migration (``makemigrations --empty --sql``), as
sqlalchemy-migrate's ``script_sql`` did: for teams that review DDL as SQL.

A migration ``0005_add_view.py`` runs ``0005_add_view.<dialect>.upgrade.sql`` when that file
exists for the database's dialect, else ``0005_add_view.upgrade.sql`` (and ``downgrade`` alike).
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic import op
from sqlalchemy import text

_TOKEN = re.compile(
    r"""(--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"(?:[^"]|"")*"|(\$\w*\$).*?\2|;)""", re.DOTALL
)


def sql_file(migration: str | Path, direction: str, dialect: str) -> Path:
    """The SQL file that ``migration`` runs in ``direction`` on ``dialect``.

    Raises:
        FileNotFoundError: neither the dialect's file nor the common one exists.
    """
    here = Path(migration)
    stem = here.with_suffix("")
    names = [f"{stem.name}.{dialect}.{direction}.sql", f"{stem.name}.{direction}.sql"]
    if dialect == "mariadb":
        names.insert(1, f"{stem.name}.mysql.{direction}.sql")
    for name in names:
        path = here.parent / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{here.name} runs SQL from {' or '.join(names)} in {here.parent}, and neither exists. "
        "Restore the file, or write one for this database."
    )


def statements(sql: str) -> list[str]:
    """Split a script on the semicolons outside strings, comments and ``$$`` bodies."""
    found, start = [], 0
    for match in _TOKEN.finditer(sql):
        if match.group(0) == ";":
            found.append(sql[start : match.start()])
            start = match.end()
    found.append(sql[start:])
    return [s.strip() for s in found if _code(s)]


def _code(statement: str) -> bool:
    without = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.DOTALL)
    return bool(without.strip())


def run_sql_file(migration: str | Path, direction: str) -> None:
    """Execute the statements of the SQL file ``migration`` runs in ``direction``."""
    dialect = op.get_context().dialect.name
    path = sql_file(migration, direction, dialect)
    for statement in statements(path.read_text(encoding="utf-8")):
        # Colons are SQL here, not bind parameters ('10:30', ::text casts).
        op.execute(text(statement.replace(":", "\\:")))
