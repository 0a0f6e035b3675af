"""The CHECKs of check_batch_changes under a naming convention for "ck" (names made from each
constraint's own name, so all are named); v2 adds a column, changes a column's type and drops a
column: on SQLite one batch copies the table."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CONVENTION = {"ck": "ck_%(table_name)s_%(constraint_name)s"}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=CONVENTION)


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        sa.CheckConstraint("qty >= 0", name="qty"),
        sa.CheckConstraint("qty < 1000", name="qty_small"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]
    price: Mapped[int] = mapped_column(sa.CheckConstraint("price > 0", name="price_positive"))
    cost: Mapped[int] = mapped_column(sa.CheckConstraint("cost >= 0", name="cost"))
    active: Mapped[bool] = mapped_column(sa.Boolean(create_constraint=True, name="active"))
    shown: Mapped[bool] = mapped_column(sa.Boolean(create_constraint=True, name="shown"))
    state: Mapped[str] = mapped_column(
        sa.Enum("open", "closed", name="item_state", native_enum=False, create_constraint=True)
    )
    spare: Mapped[int | None]
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
