import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Writer(Base):
    __tablename__ = "writer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


ARGS = ["--rename", "author=writer"]
ROWS = {"writer": [{"id": 1, "name": "Herbert"}]}
