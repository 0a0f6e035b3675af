"""A standalone Sequence and a column's, both removed from the models in v2 (makemigrations said
"No changes detected" and left them in the database).

Not on SQLite: it has no sequences."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


INVOICE_SEQ = sa.Sequence("invoice_seq", start=7, increment=2, metadata=Base.metadata)


class Voucher(Base):
    __tablename__ = "voucher"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(sa.Sequence("voucher_number_seq", start=100))


DIALECTS = ["postgresql", "mariadb"]
ROWS = {"voucher": [{"id": 1}, {"id": 2}]}
