"""A many-to-many association table with a composite primary key."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "student"
    id: Mapped[int] = mapped_column(primary_key=True)


class Course(Base):
    __tablename__ = "course"
    id: Mapped[int] = mapped_column(primary_key=True)


enrollment = sa.Table(
    "enrollment",
    Base.metadata,
    sa.Column("student_id", sa.ForeignKey("student.id"), primary_key=True),
    sa.Column("course_id", sa.ForeignKey("course.id", ondelete="CASCADE"), primary_key=True),
)

ROWS = {
    "student": [{"id": 1}],
    "course": [{"id": 1}],
    "enrollment": [{"student_id": 1, "course_id": 1}],
}
