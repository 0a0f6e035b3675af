"""A composite primary key referenced by a composite foreign key."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Edition(Base):
    __tablename__ = "edition"
    isbn: Mapped[str] = mapped_column(sa.String(13), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)


class Copy(Base):
    __tablename__ = "copy"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["isbn", "number"], ["edition.isbn", "edition.number"], name="fk_copy_edition"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(sa.String(13))
    number: Mapped[int]


ROWS = {"edition": [{"isbn": "978", "number": 1}], "copy": [{"id": 1, "isbn": "978", "number": 1}]}
