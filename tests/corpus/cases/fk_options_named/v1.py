"""Named foreign keys with ON DELETE / ON UPDATE options."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Owner(Base):
    __tablename__ = "owner"
    id: Mapped[int] = mapped_column(primary_key=True)


class Car(Base):
    __tablename__ = "car"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("owner.id", name="fk_car_owner", ondelete="SET NULL", onupdate="CASCADE")
    )


ROWS = {"owner": [{"id": 1}], "car": [{"id": 1, "owner_id": 1}]}
