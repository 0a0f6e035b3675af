"""A computed (generated) column."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Line(Base):
    __tablename__ = "line"
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]
    price: Mapped[int]
    total: Mapped[int | None] = mapped_column(sa.Computed("qty * price", persisted=True))


ROWS = {"line": [{"id": 1, "qty": 2, "price": 3}]}
