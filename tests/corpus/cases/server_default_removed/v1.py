"""v2 removes a server default from a nullable column."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Flag(Base):
    __tablename__ = "flag"
    id: Mapped[int] = mapped_column(primary_key=True)
    color: Mapped[str | None] = mapped_column(sa.String(10), server_default="red")


ROWS = {"flag": [{"id": 1}]}
