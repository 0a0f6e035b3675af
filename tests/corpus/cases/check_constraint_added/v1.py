"""v2 adds a named CHECK constraint to an existing table."""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "product"
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]


ROWS = {"product": [{"id": 1, "qty": 5}]}
