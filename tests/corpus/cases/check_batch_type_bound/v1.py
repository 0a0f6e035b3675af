"""Unnamed CHECK constraints a Boolean and a non-native Enum make (create_constraint=True, no
name, no naming convention) next to a named one; v2 changes a column's type.
On SQLite Alembic's batch copies the table and leaves the unnamed reflected CHECKs out (it
cannot tell they belong to a type); manage restates only the models' own unnamed CHECKs in
``table_args``, so the database loses these two."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Flag(Base):
    __tablename__ = "flag"
    __table_args__ = (sa.CheckConstraint("qty >= 0", name="ck_flag_qty"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    qty: Mapped[int]
    shown: Mapped[bool] = mapped_column(sa.Boolean(create_constraint=True))
    state: Mapped[str] = mapped_column(
        sa.Enum("open", "closed", native_enum=False, create_constraint=True)
    )
    label: Mapped[str] = mapped_column(sa.String(20))


ROWS = {"flag": [{"id": 1, "qty": 1, "shown": True, "state": "open", "label": "a"}]}
