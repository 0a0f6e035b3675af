"""v2 gives an existing column a Sequence: the migration creates the sequence and makes it the
column's server default; the downgrade takes the default off and drops the sequence.

Not on SQLite: it has no sequences."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Voucher(Base):
    __tablename__ = "voucher"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int | None]
    code: Mapped[str] = mapped_column(sa.String(20))


DIALECTS = ["postgresql", "mariadb"]
ROWS = {"voucher": [{"id": 1, "number": 7, "code": "a"}]}
