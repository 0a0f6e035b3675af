"""A table in another schema, referenced from the default one.

PostgreSQL only: on MariaDB a schema is another database, outside the one database a project
(and its shadow database) migrates; SQLite's schemas are attached database files."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Region(Base):
    __tablename__ = "region"
    __table_args__ = ({"schema": "other"},)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))


class Shop(Base):
    __tablename__ = "shop"
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("other.region.id", name="fk_shop_region"))


DIALECTS = ["postgresql"]
ROWS = {"other.region": [{"id": 1, "name": "north"}], "shop": [{"id": 1, "region_id": 1}]}
