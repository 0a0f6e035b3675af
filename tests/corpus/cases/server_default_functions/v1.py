"""Server defaults given as SQL functions and SQL booleans (MariaDB reflects them its own way)."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    updated: Mapped[dt.datetime] = mapped_column(server_default=sa.func.current_timestamp())
    active: Mapped[bool] = mapped_column(server_default=sa.false())
    hidden: Mapped[bool] = mapped_column(server_default=sa.true())
    flag: Mapped[bool] = mapped_column(server_default="0")


ROWS = {"event": [{"id": 1}]}
