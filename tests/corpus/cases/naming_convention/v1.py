"""A naming convention names every constraint and index."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=CONVENTION)


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(80), unique=True)


class Book(Base):
    __tablename__ = "book"
    __table_args__ = (sa.CheckConstraint("pages > 0", name="pages_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    pages: Mapped[int]
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("author.id"), index=True)


ROWS = {"author": [{"id": 1, "email": "a@b.c"}], "book": [{"id": 1, "pages": 10, "author_id": 1}]}
