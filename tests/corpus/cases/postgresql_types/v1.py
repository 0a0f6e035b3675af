"""PostgreSQL's own types: ARRAY, JSONB, INET, UUID, TSVECTOR (only PostgreSQL has them)."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Host(Base):
    __tablename__ = "host"
    id: Mapped[int] = mapped_column(primary_key=True)
    tags: Mapped[list[str]] = mapped_column(postgresql.ARRAY(sa.String(20)))
    data: Mapped[dict[str, object]] = mapped_column(postgresql.JSONB)
    address: Mapped[str] = mapped_column(postgresql.INET)
    search: Mapped[str | None] = mapped_column(postgresql.TSVECTOR)


DIALECTS = ["postgresql"]
