"""v2 adds a NOT NULL column filled by a one-off default."""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)


ROWS = {"orders": [{"id": 1}]}
