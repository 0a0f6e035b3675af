"""A partial index (PostgreSQL and SQLite).

Not on MariaDB: it has no partial indexes (``CREATE INDEX ... WHERE`` is a syntax error
on 10.11)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "job"
    id: Mapped[int] = mapped_column(primary_key=True)
    done: Mapped[bool]
    name: Mapped[str] = mapped_column(sa.String(20))


sa.Index(
    "ix_job_pending",
    Job.name,
    postgresql_where=sa.text("NOT done"),
    sqlite_where=sa.text("NOT done"),
)
DIALECTS = ["sqlite", "postgresql"]
