"""Date, time, datetime (with time zone) and interval columns."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Slot(Base):
    __tablename__ = "slot"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date)
    at: Mapped[dt.time] = mapped_column(sa.Time)
    starts: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    stamped: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    length: Mapped[dt.timedelta] = mapped_column(sa.Interval)
