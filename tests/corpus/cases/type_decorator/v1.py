"""A project's TypeDecorator column."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Cents(sa.types.TypeDecorator[int]):
    impl = sa.Integer
    cache_ok = True


class Product(Base):
    __tablename__ = "product"
    id: Mapped[int] = mapped_column(primary_key=True)
    price: Mapped[int] = mapped_column(Cents)


ROWS = {"product": [{"id": 1, "price": 100}]}
