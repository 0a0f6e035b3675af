"""v2 makes one column nullable and another NOT NULL."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Pet(Base):
    __tablename__ = "pet"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))
    nick: Mapped[str | None] = mapped_column(sa.String(20))


ROWS = {"pet": [{"id": 1, "name": "Rex", "nick": "R"}]}
