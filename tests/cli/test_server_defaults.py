"""A changed server default is a change makemigrations finds, with a database (the shadow
replay) and without one (the in-memory replay of --check), on every dialect."""

from __future__ import annotations

from tests.cli.test_check_without_database import answers
from tests.conftest import Project

AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
DEFAULTS = (
    '    price: Mapped[int] = mapped_column(server_default="0")\n'
    '    label: Mapped[str] = mapped_column(String(20), server_default="new")\n'
    "    added: Mapped[datetime.datetime] = mapped_column(\n"
    '        DateTime, server_default=text("CURRENT_TIMESTAMP")\n'
    "    )\n"
    "    shown: Mapped[bool] = mapped_column(server_default=true())\n"
)


def test_a_changed_server_default_is_detected(project: Project) -> None:
    project.edit(
        "shop/models.py",
        "from sqlalchemy import ForeignKey, String",
        "import datetime\n\nfrom sqlalchemy import DateTime, ForeignKey, String, text, true",
    )
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + DEFAULTS)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    assert answers(project.root) == ([], []), "the defaults as reflected match the models"

    project.edit("shop/models.py", 'server_default="0"', 'server_default="5"')
    project.edit("shop/models.py", 'server_default="new"', 'server_default="old"')

    in_memory, shadow = answers(project.root)
    changed = [
        "~ Alter column price on book (server default)",
        "~ Alter column label on book (server default)",
    ]
    assert (in_memory, shadow) == (changed, changed)
    assert project.run("makemigrations", "-n", "defaults").exit_code == 0
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO author (id, name) VALUES (1, 'Herbert')")
        connection.exec_driver_sql("INSERT INTO book (id, title, author_id) VALUES (1, 'Dune', 1)")
        row = connection.exec_driver_sql("SELECT price, label FROM book").one()
    engine.dispose()
    assert tuple(row) == (5, "old")
    assert answers(project.root) == ([], [])
