"""An index written as SQL text (``sa.text("at DESC")``).

Not on MariaDB yet (open bug, issue 16): after the initial migration the shadow database
answer is "- Drop index ix_event_at_desc / + Create index ix_event_at_desc" (Alembic compares
the text expression with the reflected column ``at`` and finds them different);
``Event.at.desc()`` (case index_desc) works there."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (sa.Index("ix_event_at_desc", sa.text("at DESC")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[int]


DIALECTS = ["sqlite", "postgresql"]
