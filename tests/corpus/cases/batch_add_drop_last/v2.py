import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Memo(Base):
    __tablename__ = "memo"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(20))
    code: Mapped[str | None] = mapped_column(sa.String(10))
    tag: Mapped[str | None] = mapped_column(sa.String(10))


ROWS = {"memo": [{"id": 1, "title": "a"}]}
