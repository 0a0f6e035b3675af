"""v2 drops an indexed foreign key column (MariaDB: the foreign key goes before its index)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    author_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("author.id", name="fk_book_author"), index=True
    )


ROWS = {"author": [{"id": 1}], "book": [{"id": 1, "title": "Dune", "author_id": 1}]}
