"""v2 changes an enum column to a string (PostgreSQL: a USING cast both ways)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Shipment(Base):
    __tablename__ = "shipment"
    id: Mapped[int] = mapped_column(primary_key=True)
    carrier: Mapped[str] = mapped_column(sa.Enum("ups", "dhl", name="carrier_kind"))


ROWS = {"shipment": [{"id": 1, "carrier": "dhl"}]}
