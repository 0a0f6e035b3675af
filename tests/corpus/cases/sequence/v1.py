"""Columns that take their values from Sequence objects.

Not on SQLite: it has no sequences (SQLAlchemy leaves the Sequence out there)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


TICKET_SEQ = sa.Sequence("ticket_seq", start=10)


class Ticket(Base):
    __tablename__ = "ticket"
    id: Mapped[int] = mapped_column(TICKET_SEQ, primary_key=True)
    number: Mapped[int] = mapped_column(sa.Sequence("ticket_number_seq", start=1000))
    title: Mapped[str] = mapped_column(sa.String(20))


DIALECTS = ["postgresql", "mariadb"]
ROWS = {"ticket": [{"title": "a"}, {"title": "b"}]}
