"""v2 adds one index and drops another."""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    a: Mapped[int] = mapped_column(index=True)
    b: Mapped[int]


ROWS = {"item": [{"id": 1, "a": 1, "b": 2}]}
