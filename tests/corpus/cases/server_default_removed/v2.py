import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Flag(Base):
    __tablename__ = "flag"
    id: Mapped[int] = mapped_column(primary_key=True)
    color: Mapped[str | None] = mapped_column(sa.String(10))


ROWS = {"flag": [{"id": 1, "color": "red"}]}
