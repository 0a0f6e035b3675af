"""An unnamed foreign key with ON DELETE / ON UPDATE; v2 changes ON DELETE (the unnamed key is
dropped by the name its database gave it and re-created under manage's name)."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Folder(Base):
    __tablename__ = "folder"
    id: Mapped[int] = mapped_column(primary_key=True)


class Document(Base):
    __tablename__ = "document"
    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("folder.id", ondelete="CASCADE", onupdate="CASCADE")
    )


ROWS = {"folder": [{"id": 1}], "document": [{"id": 1, "folder_id": 1}]}
