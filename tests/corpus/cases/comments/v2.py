from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Box(Base):
    __tablename__ = "box"
    __table_args__ = ({"comment": "Boxes of things"},)
    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(comment="in mm")
