"""v2 adds two columns and drops the last one: on SQLite, Alembic's batch copy of the table puts
the added columns after the first one, not at the end (its ordering of an added column refers
to the dropped one); the replay orders them the same way."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Memo(Base):
    __tablename__ = "memo"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(20))


ROWS = {"memo": [{"id": 1, "title": "a", "note": "n"}]}
