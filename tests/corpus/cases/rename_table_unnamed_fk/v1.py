"""v2 renames a table that an unnamed foreign key references."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Publisher(Base):
    __tablename__ = "publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    publisher_id: Mapped[int] = mapped_column(sa.ForeignKey("publisher.id"))


ROWS = {"publisher": [{"id": 1, "name": "Chilton"}], "book": [{"id": 1, "publisher_id": 1}]}
