"""MariaDB's own types: TINYINT, MEDIUMTEXT, SET, YEAR (only MySQL/MariaDB have them)."""

from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "row"
    id: Mapped[int] = mapped_column(primary_key=True)
    tiny: Mapped[int] = mapped_column(mysql.TINYINT)
    text: Mapped[str] = mapped_column(mysql.MEDIUMTEXT)
    flags: Mapped[str] = mapped_column(mysql.SET("a", "b"))
    year: Mapped[int] = mapped_column(mysql.YEAR)


DIALECTS = ["mariadb"]
