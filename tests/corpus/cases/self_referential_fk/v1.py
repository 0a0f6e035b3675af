"""A table whose foreign key points at itself."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Node(Base):
    __tablename__ = "node"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("node.id"))


ROWS = {"node": [{"id": 1, "parent_id": None}, {"id": 2, "parent_id": 1}]}
