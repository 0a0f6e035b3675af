import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Seat(Base):
    __tablename__ = "seat"
    __table_args__ = (sa.CheckConstraint("number > 0"), sa.UniqueConstraint("row", "number"))
    id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[str] = mapped_column(sa.String(2))
    number: Mapped[int]
    price: Mapped[int | None]


ROWS = {"seat": [{"id": 1, "row": "A", "number": 1}]}
