"""A named enum made from a Python enum class."""

import enum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Color(enum.Enum):
    red = "red"
    green = "green"


class Paint(Base):
    __tablename__ = "paint"
    id: Mapped[int] = mapped_column(primary_key=True)
    color: Mapped[Color] = mapped_column(sa.Enum(Color, name="color"))
