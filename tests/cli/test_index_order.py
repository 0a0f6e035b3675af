"""An index whose only change is a column's order (``Index("ix", t.c.x.desc())`` for
``Index("ix", t.c.x)``): SQLAlchemy's SQLite and MySQL reflection drop the order, so
makemigrations said "No changes detected"; manage reads it back (PRAGMA index_xinfo,
information_schema.STATISTICS)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.cli.test_check_without_database import answers
from tests.conftest import Project

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int]
    kind: Mapped[int]


sa.Index("ix_event_at", {columns})
"""
ASCENDING = MODELS.format(columns="Event.__table__.c.kind, Event.__table__.c.at")
DESCENDING = MODELS.format(columns="Event.__table__.c.kind, Event.__table__.c.at.desc()")
AS_TEXT = MODELS.format(columns='Event.__table__.c.kind, sa.text("at DESC")')


def _descending(project: Project) -> list[str]:
    """The descending columns of ix_event_at, as the database itself says."""
    engine = project.engine()
    try:
        with engine.connect() as connection:
            if project.dialect == "sqlite":
                rows = connection.exec_driver_sql("PRAGMA index_xinfo(ix_event_at)")
                return [row[2] for row in rows if row[5] and row[3]]
            if project.dialect == "postgresql":
                index = sa.inspect(connection).get_indexes("event")[0]
                return [c for c, s in index.get("column_sorting", {}).items() if "desc" in s]
            rows = connection.exec_driver_sql(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
                "DATABASE() AND INDEX_NAME = 'ix_event_at' AND COLLATION = 'D'"
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("before", "after"),
    [(ASCENDING, DESCENDING), (DESCENDING, ASCENDING), (AS_TEXT, ASCENDING)],
    ids=["desc", "asc", "text-asc"],
)
def test_an_index_column_order_changed(project: Project, before: str, after: str) -> None:
    if project.dialect == "sqlite" and before is AS_TEXT:
        pytest.skip("SQLite: Alembic compares no index written as SQL text (it warns), on main too")
    project.write("shop/models.py", before)
    result = project.run("makemigrations")
    assert result.exit_code == 0, result.output
    result = project.run("migrate")
    assert result.exit_code == 0, result.output
    old = _descending(project)
    project.write("shop/models.py", after)

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 1, check.output
    assert check.stdout.splitlines()[1:3] == [
        "    - Drop index ix_event_at on event",
        "    + Create index ix_event_at on event",
    ]
    result = project.run("makemigrations", "-n", "order")
    assert result.exit_code == 0, result.output
    result = project.run("migrate")
    assert result.exit_code == 0, result.output
    new = _descending(project)
    assert new == ([] if old else ["at"]), "the database has the new order"
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    assert answers(project.root) == ([], []), "in memory and in a shadow database"

    result = project.run("migrate", "0001")
    assert result.exit_code == 0, result.output
    assert _descending(project) == old, "the downgrade restores the order"
