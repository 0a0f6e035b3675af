"""A ``Sequence`` given to a column the table already has (issue 16): makemigrations creates the
sequence and makes it the column's server default; the downgrade takes both away."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.cli.test_check_without_database import answers
from tests.conftest import Project

V1 = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Voucher(Base):
    __tablename__ = "voucher"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int | None]
"""
NUMBERED = 'mapped_column(sa.Sequence("voucher_number_seq", start=100))'


def _sequences(project: Project) -> list[str]:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_sequence_names()
            return [name for name in names if name.startswith("voucher_number")]
    finally:
        engine.dispose()


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_a_sequence_added_to_an_existing_column(make_project: object, server: str) -> None:
    project: Project = make_project(server)  # type: ignore[operator]
    project.write("shop/models.py", V1)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    project.write(
        "shop/models.py", V1.replace("Mapped[int | None]", f"Mapped[int | None] = {NUMBERED}")
    )

    result = project.run("makemigrations", "-n", "numbered")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "  migrations/0002_numbered.py",
        "    + Create sequence voucher_number_seq",
        "    ~ Alter column number on voucher (server default)",
    ]
    assert project.run("migrate").exit_code == 0, "the migration runs"
    assert _sequences(project) == ["voucher_number_seq"]
    engine = project.engine()
    with engine.begin() as connection:  # a row inserted without SQLAlchemy is numbered too
        connection.exec_driver_sql("INSERT INTO voucher (id) VALUES (1)")
        assert connection.exec_driver_sql("SELECT number FROM voucher").scalar() == 100
    engine.dispose()
    assert answers(project.root) == ([], []), "checked clean, in memory and in a shadow database"

    result = project.run("migrate", "0001", "--allow-data-loss")  # the counter goes
    assert result.exit_code == 0, result.output
    assert _sequences(project) == []
    engine = project.engine()
    with engine.connect() as connection:
        column = {c["name"]: c for c in sa.inspect(connection).get_columns("voucher")}["number"]
    engine.dispose()
    assert column["default"] is None
