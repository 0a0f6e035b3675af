"""A named CHECK constraint made with the table."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (sa.CheckConstraint("qty >= 0", name="ck_stock_qty"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]


ROWS = {"stock": [{"id": 1, "qty": 1}]}
