import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Imprint(Base):
    __tablename__ = "imprint"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    publisher_id: Mapped[int] = mapped_column(sa.ForeignKey("imprint.id"))


ARGS = ["--rename", "publisher=imprint"]
ROWS = {"imprint": [{"id": 1, "name": "Chilton"}], "book": [{"id": 1, "publisher_id": 1}]}
