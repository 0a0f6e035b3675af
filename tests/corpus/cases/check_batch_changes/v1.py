"""CHECK constraints of every kind on one table: table-level named and unnamed, column-level
named and unnamed, and the ones Boolean and a non-native Enum make (create_constraint=True,
named and unnamed). v2 adds a column, changes a column's type and drops another: on SQLite
Alembic's batch copies the table, and the replayed schema must keep (or lose) the same CHECKs
the copy does."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        sa.CheckConstraint("qty >= 0", name="ck_item_qty"),
        sa.CheckConstraint("qty < 1000"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]
    price: Mapped[int] = mapped_column(sa.CheckConstraint("price > 0"))
    cost: Mapped[int] = mapped_column(sa.CheckConstraint("cost >= 0", name="ck_item_cost"))
    active: Mapped[bool] = mapped_column(sa.Boolean(create_constraint=True, name="ck_item_active"))
    shown: Mapped[bool] = mapped_column(sa.Boolean(create_constraint=True))
    state: Mapped[str] = mapped_column(
        sa.Enum("open", "closed", name="item_state", native_enum=False, create_constraint=True)
    )
    label: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(20))


ROWS = {
    "item": [
        {
            "id": 1,
            "qty": 1,
            "price": 2,
            "cost": 1,
            "active": True,
            "shown": False,
            "state": "open",
            "label": "a",
            "note": "n",
        }
    ]
}
