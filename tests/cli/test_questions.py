"""makemigrations asks about renames and one-off defaults; answers come from the prompt or from
--rename/--default, and the data in the real tables survives."""

from __future__ import annotations

import subprocess

import sqlalchemy as sa

from tests.conftest import BIN, Project

TITLE = "    title: Mapped[str] = mapped_column(String(200))\n"
RENAMED = (
    "    name: Mapped[str] = mapped_column(String(200))\n"
    "    isbn: Mapped[str] = mapped_column(String(13))\n"
)
QUESTIONS = [  # as a terminal shows them, answers typed after the prompts
    "Was book.title renamed to book.name (a VARCHAR(200))? [y/N]: y",
    "Column book.isbn is NOT NULL and has no server default, so the rows already in book need "
    "a value.",
    " 1) Give a one-off default now (it fills the existing rows only)",
    " 2) Quit, and add a server_default or make the column nullable in the models",
    "Select an option [1/2]: 1",
    "Give the default as a Python literal ('unknown', 0, True) or as SQL (CURRENT_TIMESTAMP).",
    "Default for book.isbn (a VARCHAR(13)): 'unknown'",
    "Migrations:",
]
OPERATIONS = [
    "  migrations/0002_rename_title.py",
    "    ~ Rename column book.title to name",
    "    + Add column isbn to book",
    "    ~ Set isbn to 'unknown' on the rows already in book",
    "    ~ Alter column isbn on book (now NOT NULL)",
]
ANSWERS = '''"""Rename title

Answers given to makemigrations:
- book.title was renamed to book.name (--rename book.title=book.name)
- book.isbn: existing rows set to 'unknown' (--default book.isbn="'unknown'")
'''


def with_a_book(project: Project) -> None:
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO author (id, name) VALUES (1, 'Herbert')")
        connection.exec_driver_sql("INSERT INTO book (id, title, author_id) VALUES (1, 'Dune', 1)")
    engine.dispose()
    project.edit("shop/models.py", TITLE, RENAMED)


def books(project: Project) -> list[tuple[object, ...]]:
    engine = project.engine()
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, name, isbn FROM book")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_questions_answered_at_the_prompt(project: Project) -> None:
    with_a_book(project)

    result = project.run("makemigrations", "-n", "rename_title", input="y\n1\n'unknown'\n")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == QUESTIONS + OPERATIONS
    text = (project.root / "migrations/0002_rename_title.py").read_text()
    assert text.startswith(ANSWERS)
    assert project.run("migrate").exit_code == 0
    assert books(project) == [(1, "Dune", "unknown")]
    assert project.run("makemigrations", "--check").exit_code == 0
    refused = project.run("migrate", "0001")
    assert refused.exit_code == 3, "the downgrade drops the filled isbn column: data is lost"
    assert "drops column book.isbn (has values)" in refused.stderr
    assert "book.name" not in refused.stderr, "the rename back loses nothing"
    assert project.run("migrate", "0001", "--allow-data-loss").exit_code == 0
    assert project.columns("book") == ["id", "title", "author_id"], "the rename goes back too"


def test_questions_answered_by_options(project: Project) -> None:
    with_a_book(project)
    args = ["makemigrations", "-n", "rename_title", "--no-input"]
    answers = ["--rename", "book.title=book.name", "--default", "book.isbn='unknown'"]

    result = project.run(*args, *answers)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == OPERATIONS
    text = (project.root / "migrations/0002_rename_title.py").read_text()
    assert text.startswith(ANSWERS)
    assert project.run("migrate").exit_code == 0
    assert books(project) == [(1, "Dune", "unknown")]


def test_a_sql_default_and_a_no_to_the_rename(sqlite_project: Project) -> None:
    with_a_book(sqlite_project)

    result = sqlite_project.run(
        "makemigrations", "--no-input", "--default", "book.name=upper('x')", "--default",
        "book.isbn=CURRENT_DATE",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "  ! Drop column book.title (destructive: data in it is lost)" in result.stdout
    assert sqlite_project.run("migrate").exit_code == 0
    [(_id, name, isbn)] = books(sqlite_project)
    assert (name, len(str(isbn))) == ("X", 10)


def test_a_needed_default_without_input_names_the_option(project: Project) -> None:
    with_a_book(project)
    before = project.files()

    result = project.run("makemigrations", "--no-input", "--rename", "book.title=book.name")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: Column book.isbn is NOT NULL and has no server default, so the rows already in "
        "book need a value: add server_default=... or make book.isbn nullable in the models, or "
        "give a one-off default for the existing rows with --default book.isbn=VALUE (a Python "
        "literal such as \"'unknown'\" or 0, or SQL such as CURRENT_TIMESTAMP).\n"
    )
    assert project.files() == before


def test_quitting_writes_nothing(sqlite_project: Project) -> None:
    with_a_book(sqlite_project)
    before = sqlite_project.files()

    result = sqlite_project.run("makemigrations", input="y\n2\n")

    assert result.exit_code == 3
    assert result.stderr.startswith("Error: No migration written. To add book.isbn, add server")
    assert sqlite_project.files() == before


def test_an_answer_to_no_question_is_refused(sqlite_project: Project) -> None:
    with_a_book(sqlite_project)
    before = sqlite_project.files()

    result = sqlite_project.run(
        "makemigrations",
        "--no-input",
        "--default",
        "book.isbn=0",
        "--default",
        "book.name=''",
        "--rename",
        "book.tile=book.name",
    )

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: --rename book.tile=book.name answers no question: makemigrations found no such "
    )
    assert sqlite_project.files() == before


def test_a_malformed_answer_is_a_usage_error(sqlite_project: Project) -> None:
    result = sqlite_project.run("makemigrations", "--rename", "book.title")

    assert result.exit_code == 2
    assert "NAME=VALUE" in result.stderr


PUBLISHER = """

class Publisher(Base):
    __tablename__ = "publisher"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(50))
"""


def test_a_renamed_table_keeps_its_rows(project: Project) -> None:
    models = project.root / "shop/models.py"
    models.write_text(models.read_text() + PUBLISHER)
    project.run("makemigrations")
    project.run("migrate")
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO publisher (id, label) VALUES (7, 'Ace')")
    project.edit("shop/models.py", '"publisher"', '"imprint"')

    result = project.run("makemigrations", input="y\n")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Was table publisher renamed to imprint? [y/N]: y",
        "Migrations:",
        "  migrations/0002_rename_publisher_imprint.py",
        "    ~ Rename table publisher to imprint",
    ]
    assert project.run("migrate").exit_code == 0
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT id, label FROM imprint").all() == [(7, "Ace")]
    assert project.run("migrate", "0001").exit_code == 0
    assert "publisher" in project.tables()
    engine.dispose()


def test_questions_over_a_pipe(sqlite_project: Project) -> None:
    with_a_book(sqlite_project)

    done = subprocess.run(
        [str(BIN / "manage"), "makemigrations", "-n", "rename_title"],
        cwd=sqlite_project.root,
        input="y\n1\n'unknown'\n",
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    # Over a pipe the answers are not echoed: each prompt runs into the next line.
    assert done.stdout.splitlines()[-6:] == [
        "Default for book.isbn (a VARCHAR(13)): Migrations:",
        *OPERATIONS,
    ]
    assert subprocess.run([str(BIN / "manage"), "migrate"], cwd=sqlite_project.root).returncode == 0
    assert books(sqlite_project) == [(1, "Dune", "unknown")]


def test_an_unanswered_rename_is_hinted_at(sqlite_project: Project) -> None:
    with_a_book(sqlite_project)

    result = sqlite_project.run("makemigrations", "--no-input")

    assert result.exit_code == 3
    assert result.stderr.startswith("Error: Column book.name is NOT NULL and has no server default")
    assert result.stderr.endswith(
        "If book.name is book.title renamed, say so with --rename book.title=book.name instead.\n"
    )


def test_sqlmigrate_shows_the_fill_with_its_value(sqlite_project: Project) -> None:
    with_a_book(sqlite_project)
    args = ["--rename", "book.title=book.name", "--default", 'book.isbn="it\'s"']
    sqlite_project.run("makemigrations", "--no-input", *args)

    result = sqlite_project.run("sqlmigrate", "0002")

    assert "UPDATE book SET isbn='it''s';" in result.stdout.splitlines()


INDEXED_PUBLISHER = """

class Publisher(Base):
    __tablename__ = "publisher"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(50), index=True)


class Edition(Base):
    __tablename__ = "edition"

    id: Mapped[int] = mapped_column(primary_key=True)
    publisher_id: Mapped[int] = mapped_column(
        ForeignKey("publisher.id", name="fk_edition_publisher")
    )
"""


def test_renames_of_an_indexed_column_and_a_referenced_table(project: Project) -> None:
    """The reviewer's breakages: an indexed column renamed (SQLite batch KeyError), a table
    with an index and a foreign key pointing at it renamed (index/FK ops on the old name)."""
    models = project.root / "shop/models.py"
    models.write_text(models.read_text() + INDEXED_PUBLISHER)
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO publisher (id, label) VALUES (7, 'Ace')")
        connection.exec_driver_sql("INSERT INTO edition (id, publisher_id) VALUES (1, 7)")
    project.edit("shop/models.py", '"publisher"', '"imprint"')
    project.edit("shop/models.py", '"publisher.id"', '"imprint.id"')

    result = project.run("makemigrations", "--no-input", "--rename", "publisher=imprint")
    assert result.exit_code == 0, result.output
    project.edit("shop/models.py", "label: Mapped[str]", "name: Mapped[str]")
    result = project.run(
        "makemigrations",
        "--no-input",
        "-n",
        "rename_label",
        "--rename",
        "imprint.label=imprint.name",
    )
    assert result.exit_code == 0, result.output

    assert project.run("migrate").exit_code == 0, project.run("migrate").output
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id, name FROM imprint").all()
        assert rows == [(7, "Ace")]
        indexes = {i["name"] for i in sa.inspect(connection).get_indexes("imprint")}
        fks = sa.inspect(connection).get_foreign_keys("edition")
    assert "ix_imprint_name" in indexes
    assert [fk["referred_table"] for fk in fks] == ["imprint"]
    assert project.run("makemigrations", "--check").exit_code == 0

    down = project.run("migrate", "0001")
    assert down.exit_code == 0, down.output
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT id, label FROM publisher").all() == [(7, "Ace")]
        indexes = {i["name"] for i in sa.inspect(connection).get_indexes("publisher")}
        fks = sa.inspect(connection).get_foreign_keys("edition")
    assert "ix_publisher_label" in indexes
    assert [fk["referred_table"] for fk in fks] == ["publisher"]
    assert "imprint" not in project.tables()
    engine.dispose()


def test_an_explicit_rename_wins_when_two_added_columns_share_the_type(
    sqlite_project: Project,
) -> None:
    with_a_book(sqlite_project)
    isbn_first = (
        "    isbn: Mapped[str] = mapped_column(String(200))\n"
        "    name: Mapped[str] = mapped_column(String(200))\n"
    )
    sqlite_project.edit("shop/models.py", RENAMED, isbn_first)
    args = ["--rename", "book.title=book.name", "--default", "book.isbn='unknown'"]

    result = sqlite_project.run("makemigrations", "--no-input", *args)

    assert result.exit_code == 0, result.output
    assert "    ~ Rename column book.title to name" in result.stdout.splitlines()


def test_a_table_whose_column_types_differ_is_no_rename(sqlite_project: Project) -> None:
    """A dropped table and a created one with the same column names but another type are two
    tables, not a rename: no question is asked (the types were once compared as ``type``)."""
    models = sqlite_project.root / "shop/models.py"
    models.write_text(models.read_text() + PUBLISHER)
    assert sqlite_project.run("makemigrations").exit_code == 0
    sqlite_project.edit(
        "shop/models.py",
        '"publisher"\n\n    id: Mapped[int] = mapped_column(primary_key=True)\n'
        "    label: Mapped[str] = mapped_column(String(50))",
        '"imprint"\n\n    id: Mapped[int] = mapped_column(primary_key=True)\n'
        "    label: Mapped[int] = mapped_column()",
    )

    result = sqlite_project.run("makemigrations", input="y\n")

    assert result.exit_code == 0, result.output
    assert "renamed" not in result.stdout
    assert "    + Create table imprint" in result.stdout.splitlines()


AUTHOR_ID = '    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))\n'
ADDED = AUTHOR_ID + (
    "    isbn: Mapped[str] = mapped_column(String(13))\n"
    "    copies: Mapped[int]\n"
    "    in_print: Mapped[bool]\n"
)
FILLS = {  # the fill statements sqlmigrate prints, on each dialect
    "sqlite": ["UPDATE book SET isbn='unknown';", "UPDATE book SET copies=0;",
               "UPDATE book SET in_print=1;"],
    "postgresql": ["UPDATE book SET isbn='unknown';", "UPDATE book SET copies=0;",
                   "UPDATE book SET in_print=true;"],
    "mariadb": ["UPDATE book SET isbn='unknown';", "UPDATE book SET copies=0;",
                "UPDATE book SET in_print=true;"],
}  # fmt: skip


def test_sqlmigrate_renders_the_fills_of_one_off_defaults(project: Project) -> None:
    """The fills of one-off defaults render offline on every dialect (they were an UPDATE of
    an untyped column: "No literal value renderer" outside SQLite's scratch replay)."""
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO author (id, name) VALUES (1, 'Herbert')")
        connection.exec_driver_sql("INSERT INTO book (id, title, author_id) VALUES (1, 'Dune', 1)")
    engine.dispose()
    project.edit("shop/models.py", AUTHOR_ID, ADDED)
    answers = ["book.isbn='unknown'", "book.copies=0", "book.in_print=True"]
    made = project.run(
        "makemigrations", "--no-input", "-n", "stock", *(f"--default={a}" for a in answers)
    )
    assert made.exit_code == 0, made.output

    shown = project.run("sqlmigrate", "0002")

    assert shown.exit_code == 0, shown.output
    assert [line for line in shown.stdout.splitlines() if line.startswith("UPDATE")] == FILLS[
        project.dialect
    ]
    if project.dialect != "sqlite":  # there the batch ALTERs need a live database anyway
        offline = project.run("migrate", "--sql")
        assert offline.exit_code == 0, offline.output
        assert set(FILLS[project.dialect]) <= set(offline.stdout.splitlines())
    applied = project.run("migrate")
    assert applied.exit_code == 0, applied.output
    engine = project.engine()
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT isbn, copies, in_print FROM book")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("unknown", 0, True)]
