"""Server defaults given as strings and SQL text."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Setting(Base):
    __tablename__ = "setting"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20), server_default="unnamed")
    quoted: Mapped[str] = mapped_column(sa.String(20), server_default=sa.text("'it''s'"))
    count: Mapped[int] = mapped_column(server_default=sa.text("0"))
    ratio: Mapped[float] = mapped_column(sa.Numeric(4, 2), server_default=sa.text("1.5"))


ROWS = {"setting": [{"id": 1}]}
