"""A Boolean with its CHECK constraint (create_constraint=True)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Switch(Base):
    __tablename__ = "switch"
    id: Mapped[int] = mapped_column(primary_key=True)
    on: Mapped[bool] = mapped_column(sa.Boolean(create_constraint=True, name="ck_switch_on"))


ROWS = {"switch": [{"id": 1, "on": True}]}
