"""The same index, its second column descending."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[int]
    at: Mapped[int]


sa.Index("ix_event_kind_at", Event.kind, Event.at.desc())
