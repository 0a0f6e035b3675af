"""v2 adds an unnamed unique constraint to an existing column."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(sa.String(13))


ROWS = {"book": [{"id": 1, "isbn": "978"}, {"id": 2, "isbn": "979"}]}
