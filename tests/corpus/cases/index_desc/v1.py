"""A descending index (MariaDB reported it dropped after every migration)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int]


sa.Index("ix_event_at_desc", Event.at.desc())
