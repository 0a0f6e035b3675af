"""Strings, text, unicode and binary columns."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(80))
    body: Mapped[str] = mapped_column(sa.Text)
    label: Mapped[str] = mapped_column(sa.Unicode(40))
    blob: Mapped[bytes] = mapped_column(sa.LargeBinary)
    flag: Mapped[bool] = mapped_column(sa.Boolean)


ROWS = {"note": [{"id": 1, "title": "t", "body": "b", "label": "l", "blob": b"x", "flag": True}]}
