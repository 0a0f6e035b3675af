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


INVOICE = 'sa.Sequence("invoice_seq", start=7, increment=2, metadata=Base.metadata)'
STANDALONE = V1 + f"\n\nINVOICE = {INVOICE}\n"


def _next_values(project: Project, name: str, count: int) -> list[int]:
    engine = project.engine()
    try:
        with engine.begin() as connection:
            counter = sa.select(sa.Sequence(name).next_value())
            return [connection.execute(counter).scalar_one() for _ in range(count)]
    finally:
        engine.dispose()


def _all_sequences(project: Project) -> list[str]:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            return sorted(sa.inspect(connection).get_sequence_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_a_standalone_sequence_added_then_taken_out_of_the_models(
    make_project: object, server: str
) -> None:
    project: Project = make_project(server)  # type: ignore[operator]
    project.write("shop/models.py", V1)
    assert project.run("makemigrations").exit_code == 0
    project.write("shop/models.py", STANDALONE)

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 1, check.output
    assert "    + Create sequence invoice_seq" in check.stdout
    assert project.run("makemigrations", "-n", "invoice").exit_code == 0
    assert project.run("migrate").exit_code == 0
    assert "invoice_seq" in _all_sequences(project)
    assert answers(project.root) == ([], [])

    project.write("shop/models.py", V1)  # the models no longer have it: left, as Alembic does
    check = project.run("makemigrations", "--check")

    assert check.stdout == "No changes detected\n", check.output
    assert "invoice_seq" in _all_sequences(project)


@pytest.mark.parametrize("server", ["postgresql", "mariadb"])
def test_a_sequence_taken_off_a_column(make_project: object, server: str) -> None:
    project: Project = make_project(server)  # type: ignore[operator]
    project.write("shop/models.py", V1)
    assert project.run("makemigrations").exit_code == 0
    numbered = V1.replace("Mapped[int | None]", f"Mapped[int | None] = {NUMBERED}")
    project.write("shop/models.py", numbered)
    assert project.run("makemigrations", "-n", "numbered").exit_code == 0
    assert project.run("migrate").exit_code == 0
    project.write("shop/models.py", V1)

    check = project.run("makemigrations", "--check")

    assert check.exit_code == 1, check.output
    assert check.stdout.splitlines()[1] == "    ~ Alter column number on voucher (server default)"
    assert "sequence" not in check.stdout  # the sequence stays: one made by hand looks the same
    assert project.run("makemigrations", "-n", "unnumbered").exit_code == 0
    result = project.run("migrate")
    assert result.exit_code == 0, result.output
    assert _sequences(project) == ["voucher_number_seq"]
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    assert answers(project.root) == ([], [])

    result = project.run("migrate", "0002")
    assert result.exit_code == 0, result.output
    assert _sequences(project) == ["voucher_number_seq"]
    engine = project.engine()
    with engine.begin() as connection:  # numbered again, from where the sequence started
        connection.exec_driver_sql("INSERT INTO voucher (id) VALUES (1)")
        assert connection.exec_driver_sql("SELECT number FROM voucher").scalar() == 100
    engine.dispose()


def test_sqlite_has_no_sequences_to_compare(sqlite_project: Project) -> None:
    sqlite_project.write("shop/models.py", V1)
    assert sqlite_project.run("makemigrations").exit_code == 0
    sqlite_project.write("shop/models.py", STANDALONE)
    assert sqlite_project.run("makemigrations", "--check").stdout == "No changes detected\n"
