"""An unnamed CHECK constraint and an unnamed multi-column UNIQUE, created with their table; v2
drops a column and adds one (SQLite copies the table: the CHECK has to be restated, or
Alembic's batch leaves it out)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Seat(Base):
    __tablename__ = "seat"
    __table_args__ = (sa.CheckConstraint("number > 0"), sa.UniqueConstraint("row", "number"))
    id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[str] = mapped_column(sa.String(2))
    number: Mapped[int]
    note: Mapped[str | None] = mapped_column(sa.String(20))


ROWS = {"seat": [{"id": 1, "row": "A", "number": 1, "note": "aisle"}]}
