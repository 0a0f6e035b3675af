"""An index written as SQL text (``sa.text("at DESC")``).

On MariaDB Alembic compared the text (no columns) with the reflected column ``at`` and
reported a drop and a create on every check; manage compares the text's columns
(``core/compare_plugin.py``), and the in-memory replay models it (issue 16)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (sa.Index("ix_event_at_desc", sa.text("at DESC")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int]
