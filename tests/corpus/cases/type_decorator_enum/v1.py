"""A TypeDecorator around a named enum."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Level(sa.types.TypeDecorator[str]):
    impl = sa.Enum("low", "high", name="level")
    cache_ok = True


class Alarm(Base):
    __tablename__ = "alarm"
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(Level)


ROWS = {"alarm": [{"id": 1, "level": "high"}]}
