"""v2 adds a column numbered by a new Sequence, then drops nothing: migrate zero drops it.

Not on SQLite: it has no sequences."""

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Invoice(Base):
    __tablename__ = "invoice"
    id: Mapped[int] = mapped_column(primary_key=True)


DIALECTS = ["postgresql", "mariadb"]
ROWS = {"invoice": [{"id": 1}]}
