"""Integer, big and small integers, floats and numerics."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Reading(Base):
    __tablename__ = "reading"
    id: Mapped[int] = mapped_column(primary_key=True)
    big: Mapped[int] = mapped_column(sa.BigInteger)
    small: Mapped[int] = mapped_column(sa.SmallInteger)
    ratio: Mapped[float] = mapped_column(sa.Float)
    price: Mapped[float] = mapped_column(sa.Numeric(10, 2))
    double: Mapped[float] = mapped_column(sa.Double)


ROWS = {"reading": [{"id": 1, "big": 2**40, "small": 3, "ratio": 0.5, "price": 1, "double": 2.5}]}
