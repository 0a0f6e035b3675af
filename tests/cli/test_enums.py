"""Named enums survive upgrade -> downgrade -> upgrade: on PostgreSQL they are separate types,
which Alembic neither creates for add_column nor drops with drop_table/drop_column."""

from __future__ import annotations

from tests.conftest import Project

STATE = 'sa.Enum("draft", "published", name="pubstate")'
REVIEW = f"""

class Review(Base):
    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column({STATE})
"""
LEGACY_STATE = STATE.replace('name="pubstate"', 'name="pubstate", create_type=False')
AUTHOR_NAME = "    name: Mapped[str] = mapped_column(String(100))\n"
AUTHOR_STATE = f"    state: Mapped[str | None] = mapped_column({STATE})\n"


def with_sa_import(project: Project) -> None:
    project.edit(
        "shop/models.py",
        "from sqlalchemy import",
        "import sqlalchemy as sa\nfrom sqlalchemy import",
    )


def round_trip(project: Project, back_to: str) -> None:
    for args in (("migrate",), ("migrate", back_to), ("migrate",)):
        result = project.run(*args)
        assert result.exit_code == 0, (args, result.output)


def flat(text: str) -> str:
    """The migration without whitespace: the formatter decides where lines break."""
    return "".join(text.split())


def test_a_table_and_a_column_sharing_a_new_enum(project: Project) -> None:
    with_sa_import(project)
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_NAME, AUTHOR_NAME + AUTHOR_STATE)
    project.write("shop/models.py", (project.root / "shop/models.py").read_text() + REVIEW)

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    text = flat((project.root / "migrations" / project.migrations()[-1]).read_text())
    create = 'sa.Enum("draft","published",name="pubstate").create(op.get_bind(),checkfirst=True)'
    assert text.count(create) == 1, "created once, before the table and the column that use it"
    assert text.count('name="pubstate",create_type=False)') == 2
    assert text.count('sa.Enum(name="pubstate").drop(op.get_bind(),checkfirst=True)') == 1
    round_trip(project, "0001")
    assert "state" in project.columns("author")
    assert project.run("makemigrations", "--check").exit_code == 0


def test_an_enum_column_added_to_an_existing_table(project: Project) -> None:
    with_sa_import(project)
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_NAME, AUTHOR_NAME + AUTHOR_STATE)

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    text = flat((project.root / "migrations" / project.migrations()[-1]).read_text())
    assert (
        'sa.Enum("draft","published",name="pubstate").create(op.get_bind(),checkfirst=True)'
    ) in text
    round_trip(project, "0001")
    assert "state" in project.columns("author")


def test_an_enum_still_used_by_another_model_is_kept(project: Project) -> None:
    with_sa_import(project)
    project.edit("shop/models.py", AUTHOR_NAME, AUTHOR_NAME + AUTHOR_STATE)
    project.write("shop/models.py", (project.root / "shop/models.py").read_text() + REVIEW)
    project.run("makemigrations")
    models = (project.root / "shop/models.py").read_text()
    (project.root / "shop/models.py").write_text(models.replace(REVIEW, ""))

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[1:] == [
        "  migrations/0002_delete_review.py",
        "    - Drop table review",
        "  ! Drop table review (destructive: its rows are lost)",
    ]
    text = (project.root / "migrations/0002_delete_review.py").read_text()
    assert ".drop(op.get_bind()" not in text
    round_trip(project, "0001")


def test_an_enum_used_by_a_table_the_models_do_not_own_is_kept(project: Project) -> None:
    with_sa_import(project)
    project.write("shop/models.py", (project.root / "shop/models.py").read_text() + REVIEW)
    project.run("makemigrations")
    project.write(
        "migrations/0002_legacy.py",
        f"""
        import sqlalchemy as sa
        from alembic import op

        revision = "0002_legacy"
        down_revision = "0001_initial"


        def upgrade() -> None:
            op.create_table(
                "legacy_review",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("state", {LEGACY_STATE}),
            )


        def downgrade() -> None:
            op.drop_table("legacy_review")
        """,
    )
    project.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\nexclude_tables = ["legacy_*"]',
    )
    models = (project.root / "shop/models.py").read_text()
    (project.root / "shop/models.py").write_text(models.replace(REVIEW, ""))

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    text = (project.root / "migrations/0003_delete_review.py").read_text()
    if project.dialect == "postgresql":
        assert ".drop(op.get_bind()" not in text, "legacy_review still uses the type"
    round_trip(project, "0002")
