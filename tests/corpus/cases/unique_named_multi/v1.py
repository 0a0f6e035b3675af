"""A named multi-column unique constraint; v2 drops it."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Seat(Base):
    __tablename__ = "seat"
    __table_args__ = (sa.UniqueConstraint("row", "number", name="uq_seat_place"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[int]
    number: Mapped[int]


ROWS = {"seat": [{"id": 1, "row": 1, "number": 1}]}
