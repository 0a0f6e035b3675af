"""Mixins giving every table an id and an indexed foreign key (MariaDB drop order)."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())


class Author(IdMixin, Base):
    __tablename__ = "author"
    name: Mapped[str] = mapped_column(sa.String(50))


class AuthoredMixin:
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("author.id"), index=True)


class Book(IdMixin, AuthoredMixin, Base):
    __tablename__ = "book"
    title: Mapped[str] = mapped_column(sa.String(50))


ROWS = {
    "author": [{"id": 1, "name": "Herbert"}],
    "book": [{"id": 1, "title": "Dune", "author_id": 1}],
}
