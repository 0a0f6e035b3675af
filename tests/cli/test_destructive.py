"""Operations that lose data or break writes are called out by makemigrations and migrate --plan."""

from __future__ import annotations

from tests.conftest import Project

TITLE = "    title: Mapped[str] = mapped_column(String(200))\n"
BEFORE = (
    TITLE
    + "    pages: Mapped[int] = mapped_column(BigInteger)\n"
    + "    isbn: Mapped[str | None] = mapped_column(String(13))\n"
)
AFTER = (
    "    title: Mapped[str] = mapped_column(String(50))\n"
    + "    pages: Mapped[int] = mapped_column(Integer)\n"
)
SHELF = """

class Shelf(Base):
    __tablename__ = "shelf"

    id: Mapped[int] = mapped_column(primary_key=True)
"""
WARNINGS = [
    "  ! Drop column book.isbn (destructive: data in it is lost)",
    "  ! Drop table shelf (destructive: its rows are lost)",
    "  ! Narrow column book.pages from BIGINT to INTEGER "
    "(destructive: values that do not fit are cut or refused)",
    "  ! Narrow column book.title from VARCHAR(200) to VARCHAR(50) "
    "(destructive: values that do not fit are cut or refused)",
]


LINT = {  # the lint's findings for the same migration (manage lint)
    "sqlite": [],
    "postgresql": ["M109", "M109", "M301", "M302"],
    "mariadb": ["M301", "M302", "M401", "M401", "M401", "M402", "M402"],
}


def test_destructive_operations_are_flagged(project: Project) -> None:
    project.edit("shop/models.py", "import ForeignKey, String", "import *")
    project.edit("shop/models.py", TITLE, BEFORE)
    models = project.root / "shop/models.py"
    models.write_text(models.read_text() + SHELF)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    project.edit("shop/models.py", BEFORE, AFTER)
    project.edit("shop/models.py", SHELF, "\n")

    written = project.run("makemigrations", "-n", "shrink")
    plan = project.run("migrate", "--plan")
    back = project.run("migrate", "zero", "--plan")

    assert written.exit_code == 0, written.output
    lines = written.stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("  !")) == WARNINGS
    assert plan.exit_code == 0, plan.output
    assert plan.stdout.splitlines()[:2] == ["Planned operations:", "  Apply 0002_shrink"]
    warned = [line for line in plan.stdout.splitlines()[2:] if not line.startswith("    ~ ")]
    assert sorted(warned) == ["  " + w for w in WARNINGS]
    linted = [line.split(": ")[1] for line in plan.stdout.splitlines() if line[:6] == "    ~ "]
    assert sorted(rule.split()[0] for rule in linted) == LINT[project.dialect]
    assert back.stdout.splitlines()[:2] == ["Planned operations:", "  Unapply 0001_initial"]
    assert sorted(back.stdout.splitlines()[2:]) == [
        "    ! Drop table author (destructive: its rows are lost)",
        "    ! Drop table book (destructive: its rows are lost)",
        "    ! Drop table shelf (destructive: its rows are lost)",
    ]


def test_removing_the_server_default_of_a_not_null_column_is_flagged(
    project: Project,
) -> None:
    project.write(
        "migrations/0001_default.py",
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "0001_default"
        down_revision = None


        def upgrade() -> None:
            with op.batch_alter_table("book") as batch_op:
                batch_op.alter_column(
                    "isbn",
                    existing_type=sa.String(13),
                    existing_nullable=False,
                    existing_server_default="unknown",
                    server_default=None,
                )


        def downgrade() -> None:
            pass
        """,
    )

    result = project.run("migrate", "--plan")

    assert result.stdout == (
        "Planned operations:\n"
        "  Apply 0001_default\n"
        "    ! Remove the server default of NOT NULL column book.isbn "
        "(destructive: inserts that leave it out will fail)\n"
    )


ISBN = '    isbn: Mapped[str] = mapped_column(String(13), server_default="unknown")\n'
NO_DEFAULT = (
    "Remove the server default of NOT NULL column book.isbn "
    "(destructive: inserts that leave it out will fail)"
)


def test_a_model_losing_the_server_default_of_a_not_null_column_is_flagged(
    project: Project,
) -> None:
    project.edit("shop/models.py", TITLE, TITLE + ISBN)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    project.edit("shop/models.py", ISBN, ISBN.replace(', server_default="unknown"', ""))

    written = project.run("makemigrations", "-n", "no_default")
    plan = project.run("migrate", "--plan")

    assert written.exit_code == 0, written.output
    assert written.stdout.splitlines()[1:] == [
        "  migrations/0002_no_default.py",
        "    ~ Alter column isbn on book (server default)",
        "  ! " + NO_DEFAULT,
    ]
    assert plan.stdout.splitlines() == [
        "Planned operations:",
        "  Apply 0002_no_default",
        "    ! " + NO_DEFAULT,
    ]
    assert project.run("migrate").exit_code == 0
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
