"""An index on an expression.

Not on MariaDB: it has no functional indexes (``CREATE INDEX ix ON t ((lower(b)))`` is a
syntax error on 10.11; MySQL 8.0.13+ has them)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(80))


sa.Index("ix_person_lower_email", sa.func.lower(Person.email))
DIALECTS = ["sqlite", "postgresql"]
