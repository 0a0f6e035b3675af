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
    title: Mapped[str] = mapped_column(sa.String(20))


ARGS = ["--rename", "item.label=item.title"]
ROWS = {"item": [{"id": 1, "qty": 1, "price": 2, "cost": 1, "active": True, "title": "a"}]}
