"""squashmigrations: one migration replaces a run of them; new databases get the same schema,
databases at or after the end keep working, databases inside the range are told what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import Project

AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
ISBN = "    isbn: Mapped[str | None] = mapped_column(String(13), index=True)\n"
PRICE = '    price: Mapped[int] = mapped_column(server_default="0")\n'
TAG = """

class Tag(Base):
    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(30), unique=True)
"""
COLOR = "    label: Mapped[str] = mapped_column(String(30), unique=True)\n"


def schema(url: str) -> dict[str, Any]:
    """Everything reflection sees, in a form two databases can be compared by."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "uniques": sorted(
                    tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
                ),
            }
    engine.dispose()
    return found


def history_of_five(project: Project) -> None:
    models = project.root / "shop/models.py"
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + ISBN)
    project.run("makemigrations")
    models.write_text(models.read_text() + TAG)
    project.run("makemigrations")
    project.edit("shop/models.py", ISBN, ISBN + PRICE)
    project.run("makemigrations")
    project.edit(
        "shop/models.py",
        COLOR,
        COLOR + "    color: Mapped[str | None] = mapped_column(String(20))\n",
    )
    project.run("makemigrations")
    assert project.migrations() == [
        "0001_initial.py",
        "0002_add_book_isbn.py",
        "0003_create_tag.py",
        "0004_add_book_price.py",
        "0005_add_tag_color.py",
    ]


def test_squash_keeps_the_schema_and_every_database_working(
    project: Project, fresh_database: Any
) -> None:
    history_of_five(project)
    urls = {}
    for name in ("original", "middle", "early", "squashed"):
        folder = project.root.parent / name
        folder.mkdir()
        urls[name] = fresh_database(project.dialect, folder)
    for name, target in (("original", "head"), ("middle", "0003"), ("early", "0001")):
        migrated = project.run("--database-url", urls[name], "migrate", target)
        assert migrated.exit_code == 0, migrated.output
    assert project.run("migrate", "0004").exit_code == 0  # the project's database: at END

    result = project.run("squashmigrations", "0002", "0004", "--no-input")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Squashed 3 migrations (0002_add_book_isbn .. 0004_add_book_price) into "
        "migrations/0004_add_book_price.py\n"
        "  The replaced files were removed.\n"
    )
    assert project.migrations() == [
        "0001_initial.py",
        "0004_add_book_price.py",
        "0005_add_tag_color.py",
    ]
    text = (project.root / "migrations/0004_add_book_price.py").read_text()
    assert text.startswith('"""Squashed 0002_add_book_isbn .. 0004_add_book_price (3 migrations)')
    assert 'down_revision: str | Sequence[str] | None = "0001_initial"' in text

    fresh = project.run("--database-url", urls["squashed"], "migrate")
    assert fresh.exit_code == 0, fresh.output
    assert schema(urls["squashed"]) == schema(urls["original"])

    at_end = project.run("migrate")
    assert at_end.exit_code == 0, at_end.output
    assert at_end.stdout.splitlines()[-1] == "  Applying 0005_add_tag_color... OK"
    assert schema(project.database_url) == schema(urls["original"])

    early = project.run("--database-url", urls["early"], "migrate")
    assert early.exit_code == 0, early.output
    assert schema(urls["early"]) == schema(urls["original"])

    middle = project.run("--database-url", urls["middle"], "migrate")
    assert middle.exit_code == 3
    assert middle.stderr == (
        "Error: The database is at revision '0003_create_tag', which 0004_add_book_price "
        "squashed together with the other migrations from 0002_add_book_isbn to "
        "0004_add_book_price. A database in the middle of a squashed range must first reach "
        "0004_add_book_price with the original migrations: restore them (from version control, "
        "or from the squashed_* folder that --keep wrote), run 'manage migrate "
        "0004_add_book_price', then use the squashed history.\n"
    )
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"


def test_squash_keep_moves_the_originals_out_of_the_history(project: Project) -> None:
    history_of_five(project)

    result = project.run("squashmigrations", "0005", "--keep", input="y\n")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Squash 5 migrations (0001_initial .. 0005_add_tag_color) into one with the id "
        "0005_add_tag_color? [y/N]: y",
        "Squashed 5 migrations (0001_initial .. 0005_add_tag_color) into "
        "migrations/0005_add_tag_color.py",
        "  The replaced files are in migrations/squashed_0001_0005/ (not loaded).",
    ]
    kept = sorted(p.name for p in Path(project.root / "migrations/squashed_0001_0005").iterdir())
    assert kept == [
        "0001_initial.py",
        "0002_add_book_isbn.py",
        "0003_create_tag.py",
        "0004_add_book_price.py",
        "0005_add_tag_color.py",
    ]
    shown = project.run("showmigrations")
    assert shown.stdout == " [ ] 0005_add_tag_color (head)\n"
    assert project.run("migrate").exit_code == 0
    assert project.run("makemigrations", "--check").exit_code == 0


def test_squash_refusals(project: Project) -> None:
    history_of_five(project)
    before = project.files()

    declined = project.run("squashmigrations", "0003", input="n\n")
    one = project.run("squashmigrations", "0003", "0003")
    backwards = project.run("squashmigrations", "0004", "0002")
    zero = project.run("squashmigrations", "zero", "0002")

    assert declined.stdout.splitlines()[-1] == "Squash not written."
    assert (one.exit_code, one.stderr) == (
        3,
        "Error: There is only one migration from 0003_create_tag to 0003_create_tag; squashing "
        "needs two or more. Give an earlier START.\n",
    )
    assert (backwards.exit_code, backwards.stderr) == (
        3,
        "Error: 0004_add_book_price does not come before 0002_add_book_isbn in the history. "
        "Give START and END in the order they apply ('manage showmigrations' lists them).\n",
    )
    assert (zero.exit_code, zero.stderr) == (
        3,
        "Error: squashmigrations replaces migrations, and 'zero' is the state before the first "
        "one: give migration ids, e.g. 'manage squashmigrations 0004' to squash from the first "
        "migration to 0004 (START defaults to the first).\n",
    )
    assert project.files() == before


def test_squash_takes_one_or_two_migrations(sqlite_project: Project) -> None:
    result = sqlite_project.run("squashmigrations", "0001", "0002", "0003")

    assert result.exit_code == 2
    assert "give END, or START and END." in result.stderr


STATE = (
    '    state: Mapped[str | None] = mapped_column(Enum("draft", "printed", name="book_state"))\n'
    "    stamped: Mapped[datetime.datetime | None] = mapped_column(DateTime)\n"
)
DIALECT_TYPES = ("sa.DATETIME", "sa.VARCHAR(length=8)", "mysql.", "postgresql.", "sqlite.")


def test_squash_to_the_head_writes_the_models_types(project: Project) -> None:
    """Squashed up to the head with the models in step, the migration is written from the
    models, so it carries no type of the dialect it was squashed on, and the database at END
    is not reported as edited."""
    project.edit(
        "shop/models.py",
        "from sqlalchemy import",
        "import datetime\n\nfrom sqlalchemy import DateTime, Enum,",
    )
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + STATE)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0

    result = project.run("squashmigrations", "0002", "--no-input")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    text = (project.root / "migrations/0002_add_book_state_stamped.py").read_text()
    assert [t for t in DIALECT_TYPES if t in text] == []
    assert 'sa.Enum("draft", "printed", name="book_state")' in text
    assert "sa.DateTime()" in text
    shown = project.run("showmigrations")
    assert "edited" not in shown.output, shown.output
    assert project.run("check").exit_code == 0
    assert project.run("migrate", "zero", "--allow-data-loss").exit_code == 0
    rebuilt = project.run("migrate")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"


def test_squash_across_a_merge(project: Project) -> None:
    """Two branches and their merge squash into one migration that replaces all of them
    (Django squashes across merges); a new database gets the same schema, and the database
    at the merge keeps working."""
    project.run("makemigrations")
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + ISBN)
    assert project.run("makemigrations").exit_code == 0  # 0002_add_book_isbn
    isbn = project.root / "migrations/0002_add_book_isbn.py"
    aside = isbn.read_bytes()
    isbn.unlink()
    project.edit("shop/models.py", ISBN, "")
    models = project.root / "shop/models.py"
    models.write_text(models.read_text() + TAG)
    assert project.run("makemigrations").exit_code == 0  # 0002_create_tag, the other branch
    isbn.write_bytes(aside)
    project.edit("shop/models.py", AUTHOR_ID, AUTHOR_ID + ISBN)
    assert project.run("makemigrations", "--merge", "--no-input").exit_code == 0
    assert project.migrations() == [
        "0001_initial.py",
        "0002_add_book_isbn.py",
        "0002_create_tag.py",
        "0003_merge_add_book_i_create_tag.py",
    ]
    assert project.run("migrate").exit_code == 0
    before = schema(project.database_url)

    result = project.run("squashmigrations", "0003", "--no-input")

    assert result.exit_code == 0, result.output
    assert project.migrations() == ["0003_merge_add_book_i_create_tag.py"]
    text = (project.root / "migrations/0003_merge_add_book_i_create_tag.py").read_text()
    assert "down_revision: str | Sequence[str] | None = None" in text
    for replaced in ("0001_initial", "0002_add_book_isbn", "0002_create_tag"):
        assert f'    "{replaced}",\n' in text
    assert project.run("migrate").stdout.splitlines()[-1] == "  No migrations to apply."
    assert project.run("makemigrations", "--check").exit_code == 0
    if project.dialect == "sqlite":  # a new database: the squashed migration alone
        url = f"sqlite:///{project.root / 'fresh.sqlite3'}"
        assert project.run("--database-url", url, "migrate").exit_code == 0
        assert schema(url) == before
