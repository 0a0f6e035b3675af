"""v2 drops a plain nullable column."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Film(Base):
    __tablename__ = "film"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    note: Mapped[str | None] = mapped_column(sa.String(50))


ROWS = {"film": [{"id": 1, "title": "Alien", "note": "x"}]}
