"""A multi-column index and a unique index."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        sa.Index("ix_event_kind_at", "kind", "at"),
        sa.Index("ux_event_code", "code", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    code: Mapped[str] = mapped_column(sa.String(10))
    at: Mapped[int]
