import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (sa.CheckConstraint("qty <= 1000", name="ck_product_qty_max"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]
