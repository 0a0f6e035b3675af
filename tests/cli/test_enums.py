"""Named enums survive upgrade -> downgrade -> upgrade: on PostgreSQL they are separate types,
which Alembic neither creates for add_column nor drops with drop_table/drop_column."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.cli.test_check_without_database import DOWN, answers
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


# -- changing the values of an enum ------------------------------------------------------------

STATUS = '    status: Mapped[str] = mapped_column(sa.Enum({}, name="status"){})\n'


def with_status(project: Project, *values: str, default: str = "") -> None:
    """The author's status column, an enum of ``values`` (with a server ``default``)."""
    models = project.root / "shop/models.py"
    text = models.read_text()
    if "status:" not in text:
        with_sa_import(project)
        text = models.read_text().replace(AUTHOR_NAME, AUTHOR_NAME + "    status:\n")
    start = text.index("    status:")
    end = text.index("\n", start) + 1
    quoted = ", ".join(f'"{v}"' for v in values)
    extra = f", server_default={default!r}" if default else ""
    models.write_text(text[:start] + STATUS.format(quoted, extra) + text[end:])


def statuses(project: Project) -> list[str]:
    engine = project.engine()
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT status FROM author ORDER BY id")
        found = [row[0] for row in rows]
    engine.dispose()
    return found


def insert(project: Project, *values: str) -> None:
    engine = project.engine()
    with engine.begin() as connection:
        for value in values:
            connection.execute(
                sa.text("INSERT INTO author (name, status) VALUES ('x', :status)"),
                {"status": value},
            )
    engine.dispose()


def column_type(project: Project) -> object:
    """What the database keeps: the enum type's values in order (PostgreSQL), the column's type
    (MariaDB's ``enum(...)``, SQLite's ``VARCHAR(n)``)."""
    engine = project.engine()
    with engine.connect() as connection:
        if project.dialect == "postgresql":
            rows = connection.exec_driver_sql("SELECT unnest(enum_range(NULL::status))::text")
            found: object = [row[0] for row in rows]
        elif project.dialect == "mariadb":
            found = connection.exec_driver_sql(
                "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                "DATABASE() AND TABLE_NAME = 'author' AND COLUMN_NAME = 'status'"
            ).scalar()
        else:
            found = next(
                row[2]
                for row in connection.exec_driver_sql("PRAGMA table_info(author)")
                if row[1] == "status"
            )
    engine.dispose()
    return found


ADDED = "    ~ Alter column status on author (enum values: add 'review', 'out_of_print')"
LONGER = "    ~ Alter column status on author (type VARCHAR(9) -> VARCHAR(12))"
ADD_VALUES = [
    "    with op.get_context().autocommit_block():",
    "        op.execute(\"ALTER TYPE status ADD VALUE IF NOT EXISTS 'review' AFTER 'draft'\")",
    "        op.execute(\n"
    "            \"ALTER TYPE status ADD VALUE IF NOT EXISTS 'out_of_print' AFTER 'published'\"\n"
    "        )",
]


def test_adding_enum_values(project: Project) -> None:
    with_status(project, "draft", "published")
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    insert(project, "draft", "published")
    with_status(project, "draft", "review", "published", "out_of_print")

    check = project.run("makemigrations", "--check")
    made = project.run("makemigrations")
    applied = project.run("migrate")

    # SQLite keeps an enum as a VARCHAR as long as its longest value, without a CHECK.
    line = LONGER if project.dialect == "sqlite" else ADDED
    assert (check.exit_code, check.stdout.splitlines()[1:2]) == (1, [line])
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[1:] == ["  migrations/0002_alter_author_status.py", line]
    text = (project.root / "migrations/0002_alter_author_status.py").read_text()
    if project.dialect == "postgresql":
        upgrade = text[text.index("def upgrade") : text.index("def downgrade")]
        assert [line for line in ADD_VALUES if line in upgrade] == ADD_VALUES
    assert applied.exit_code == 0, applied.output
    insert(project, "out_of_print", "review")
    assert statuses(project) == ["draft", "published", "out_of_print", "review"]
    assert (
        column_type(project)
        == {
            "postgresql": ["draft", "review", "published", "out_of_print"],
            "mariadb": "enum('draft','review','published','out_of_print')",
            "sqlite": "VARCHAR(12)",
        }[project.dialect]
    )
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    if project.dialect != "sqlite":  # a database refuses to drop values rows still hold
        refused = project.run("migrate", "0001")
        assert refused.exit_code == 3, refused.output
        assert statuses(project) == ["draft", "published", "out_of_print", "review"]
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM author WHERE status IN ('review', 'out_of_print')")
    engine.dispose()
    back = project.run("migrate", "0001")
    assert back.exit_code == 0, back.output
    assert statuses(project) == ["draft", "published"]
    assert (
        column_type(project)
        == {
            "postgresql": ["draft", "published"],
            "mariadb": "enum('draft','published')",
            "sqlite": "VARCHAR(9)",
        }[project.dialect]
    )
    assert project.run("migrate").exit_code == 0


REMOVED = "    ~ Alter column status on author (enum values: remove 'review')"
REMOVED_WARNING = (
    "  ! Remove 'review' from the values of column author.status "
    "(destructive: rows that hold them make the migration fail)"
)


def test_removing_an_enum_value(project: Project) -> None:
    with_status(project, "draft", "review", "published", default="draft")
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    insert(project, "published", "review", "draft")
    with_status(project, "draft", "published", default="draft")

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    if project.dialect == "sqlite":  # VARCHAR(9) either way: nothing changes in the database
        assert made.stdout == "No changes detected\n"
        return
    assert made.stdout.splitlines()[1:] == [
        "  migrations/0002_alter_author_status.py",
        REMOVED,
        REMOVED_WARNING,
    ]
    plan = project.run("migrate", "--plan")
    lint = ["    ~ line 23: M401 mysql-online-ddl"] if project.dialect == "mariadb" else []
    shown = [":".join(line.split(":", 2)[:2]) if "~" in line else line
             for line in plan.stdout.splitlines()[2:]]  # fmt: skip
    assert shown == ["  " + REMOVED_WARNING, *lint]
    refused = project.run("migrate")
    assert refused.exit_code == 3, refused.output
    assert statuses(project) == ["published", "review", "draft"]
    assert "0002_alter_author_status" not in project.version()
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE author SET status = 'draft' WHERE status = 'review'")
    engine.dispose()
    applied = project.run("migrate")
    assert applied.exit_code == 0, applied.output
    assert statuses(project) == ["published", "draft", "draft"]
    assert (
        column_type(project)
        == {
            "postgresql": ["draft", "published"],
            "mariadb": "enum('draft','published')",
        }[project.dialect]
    )
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    back = project.run("migrate", "0001")
    assert back.exit_code == 0, back.output
    assert statuses(project) == ["published", "draft", "draft"]


ENUM_STEPS = [
    ("draft", "published"),
    ("draft", "review", "published", "out_of_print"),  # added, in the middle and at the end
    ("draft", "published", "out_of_print"),  # removed (SQLite: VARCHAR(12) still)
    ("published", "draft", "out_of_print"),  # reordered
    ("withdrawn_by_its_author", "published", "draft", "out_of_print"),  # added first
]


def test_check_without_a_database_agrees_on_enum_values(project: Project) -> None:
    for number, values in enumerate(ENUM_STEPS, start=1):
        with_status(project, *values)
        pending, expected = answers(project.root)
        assert pending == expected, f"step {number}, changes pending"
        if project.dialect != "sqlite" or number in (1, 2, 5):
            assert pending, f"step {number} has changes"
        assert project.run("makemigrations").exit_code == 0
        pending, expected = answers(project.root)
        assert pending == expected == [], f"step {number}, after writing"
        applied = project.run("migrate")
        assert applied.exit_code == 0, applied.output
    assert (
        column_type(project)
        == {
            "postgresql": ["withdrawn_by_its_author", "published", "draft", "out_of_print"],
            "mariadb": "enum('withdrawn_by_its_author','published','draft','out_of_print')",
            "sqlite": "VARCHAR(23)",
        }[project.dialect]
    )
    back = project.run("migrate", "zero", "--allow-data-loss")
    assert back.exit_code == 0, back.output


RENAME_VALUE = """
from alembic import op

revision = "0002_rename_draft"
down_revision = "0001_initial"


def upgrade() -> None:
    op.execute("ALTER TYPE status RENAME VALUE 'draft' TO 'drafted'")


def downgrade() -> None:
    op.execute("ALTER TYPE status RENAME VALUE 'drafted' TO 'draft'")
"""


def test_other_enum_ddl_is_not_guessed_at(make_project: object) -> None:
    """Only manage's own statement forms are followed in memory; a hand-written RENAME VALUE
    sends the check to a shadow database, which sees the renamed value."""
    project: Project = make_project("postgresql")  # type: ignore[operator]
    with_status(project, "draft", "published")
    project.run("makemigrations")
    project.write("migrations/0002_rename_draft.py", RENAME_VALUE)
    with_status(project, "drafted", "published")

    result = project.run("makemigrations", "--check")

    assert (result.exit_code, result.stdout) == (0, "No changes detected\n")
    assert result.stderr == (
        "Migration 0002_rename_draft runs op.execute(\"ALTER TYPE status RENAME VALUE 'draft' "
        "TO 'drafted'\"), whose effect on the schema cannot be known without a database; "
        "comparing against a shadow database instead.\n"
    )


BOOK_STATUS = '    status: Mapped[str | None] = mapped_column(sa.Enum({}, name="status"))\n'
BOOK_TITLE = "    title: Mapped[str] = mapped_column(String(200))\n"
SHARED_STEPS = [
    (("draft", "published"), []),
    (
        ("draft", "review", "published"),
        [
            "    ~ Alter column status on author (enum values: add 'review')",
            "    ~ Alter column status on book (enum values: add 'review')",
        ],
    ),
    (
        ("review", "published"),
        [
            "    ~ Alter column status on author (enum values: remove 'draft')",
            "    ~ Alter column status on book (enum values: remove 'draft')",
            "  ! Remove 'draft' from the values of column author.status "
            "(destructive: rows that hold them make the migration fail)",
            "  ! Remove 'draft' from the values of column book.status "
            "(destructive: rows that hold them make the migration fail)",
        ],
    ),
]


def test_two_tables_sharing_an_enum(project: Project) -> None:
    """One type, two columns: PostgreSQL adds each value once, and drops the old type only
    after casting both columns to the new one."""
    models = project.root / "shop/models.py"
    for number, (values, lines) in enumerate(SHARED_STEPS, start=1):
        with_status(project, *values)
        quoted = ", ".join(f'"{v}"' for v in values)
        text = models.read_text()
        if number == 1:
            text = text.replace(BOOK_TITLE, BOOK_TITLE + BOOK_STATUS.format(quoted))
        else:
            before = ", ".join(f'"{v}"' for v in SHARED_STEPS[number - 2][0])
            text = text.replace(BOOK_STATUS.format(before), BOOK_STATUS.format(quoted))
        models.write_text(text)
        pending, expected = answers(project.root)
        assert pending == expected, f"step {number}"

        made = project.run("makemigrations")
        applied = project.run("migrate")

        assert made.exit_code == 0, made.output
        if number > 1 and project.dialect == "sqlite":  # VARCHAR(9) throughout
            assert made.stdout == "No changes detected\n"
        elif number > 1:
            assert made.stdout.splitlines()[2:] == lines
        assert applied.exit_code == 0, applied.output
        if number == 2:
            insert(project, "review")
        assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    if project.dialect == "postgresql":
        second, third = sorted((project.root / "migrations").glob("000[23]_*.py"))
        assert second.read_text().count("ADD VALUE") == 1
        upgrade = third.read_text().split("def downgrade")[0]
        assert upgrade.count("op.alter_column(") == 2
        assert upgrade.rindex("op.alter_column(") < upgrade.index("DROP TYPE")
        assert column_type(project) == ["review", "published"]
    assert statuses(project) == ["review"]
    back = project.run("migrate", "0001")  # a row holds 'review', which 0002 added
    assert back.exit_code == (0 if project.dialect == "sqlite" else 3), back.output
    assert statuses(project) == ["review"]


# -- review fixes ------------------------------------------------------------------------------


def server_default(project: Project) -> str | None:
    """The status column's server default as the database reports it."""
    engine = project.engine()
    inspector = sa.inspect(engine)
    found = next(c for c in inspector.get_columns("author") if c["name"] == "status")["default"]
    engine.dispose()
    return None if found is None else str(found)


def default_value(project: Project) -> str:
    """What an insert that leaves status out stores."""
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO author (name) VALUES ('by default')")
        found = connection.exec_driver_sql(
            "SELECT status FROM author WHERE name = 'by default'"
        ).scalar()
        connection.exec_driver_sql("DELETE FROM author WHERE name = 'by default'")
    engine.dispose()
    return str(found)


DEFAULT_STEPS = [
    (("draft", "published"), "draft", None),
    # a value added, and the default moved to an old one: the downgrade recreates the type
    (
        ("draft", "review", "published"),
        "published",
        "    ~ Alter column status on author (enum values: add 'review'; server default)",
    ),
    # a value removed, and the default moved off it: the upgrade recreates the type
    (
        ("review", "published"),
        "review",
        "    ~ Alter column status on author (enum values: remove 'draft'; server default)",
    ),
    # a value added, and the default removed (the downgrade recreates the type with 'review')
    (
        ("review", "published", "archived"),
        None,
        "    ~ Alter column status on author (enum values: add 'archived'; server default)",
    ),
]
DEFAULT_REMOVED = (
    "  ! Remove the server default of NOT NULL column author.status "
    "(destructive: inserts that leave it out will fail)"
)


def test_a_server_default_changed_with_the_values(project: Project) -> None:
    """The recreated type gets the default the migration gives, in both directions."""
    for number, (values, default, line) in enumerate(DEFAULT_STEPS, start=1):
        with_status(project, *values, default=default or "")
        if number > 1:
            pending, expected = answers(project.root)
            assert pending == expected, f"step {number}"
        made = project.run("makemigrations")
        assert made.exit_code == 0, made.output
        if line and project.dialect != "sqlite":
            assert made.stdout.splitlines()[2] == line
        if default is None:
            assert made.stdout.splitlines()[-1] == DEFAULT_REMOVED
            plan = project.run("migrate", "--plan")
            warned = [line for line in plan.stdout.splitlines() if not line.startswith("    ~ ")]
            assert warned[-1] == "  " + DEFAULT_REMOVED  # after it, MariaDB's M401 (lint)
        before = project.migrations()[-2][:4] if number > 1 else "zero"
        for args in (("migrate",), ("migrate", before), ("migrate",)):
            result = project.run(*args)
            assert result.exit_code == 0, (number, args, result.output)
        if default is None:
            assert server_default(project) is None
        else:
            assert default_value(project) == default
        assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    back = project.run("migrate", "0001")
    assert back.exit_code == 0, back.output
    assert default_value(project) == "draft"


def test_an_added_value_used_as_the_default_at_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL refuses a value added in the same transaction ("unsafe use of new value"):
    manage adds it in an autocommit block, which the in-memory check follows too."""
    with_status(project, "draft", "published", default="draft")
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    with_status(project, "draft", "published", "archived", default="archived")

    made = project.run("makemigrations")
    applied = project.run("migrate")

    assert made.exit_code == 0, made.output
    assert applied.exit_code == 0, applied.output
    assert default_value(project) == "archived"
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
    if project.dialect != "sqlite":
        monkeypatch.setenv("DATABASE_URL", DOWN[project.dialect])
    offline = project.run("makemigrations", "--check")
    assert (offline.exit_code, offline.stdout, offline.stderr) == (0, "No changes detected\n", "")
    monkeypatch.setenv("DATABASE_URL", project.database_url)
    back = project.run("migrate", "0001")
    assert back.exit_code == 0, back.output
    assert default_value(project) == "draft"


def test_a_value_removed_while_a_column_of_the_type_is_dropped(project: Project) -> None:
    """The old type is dropped after the columns the migration drops, which still use it."""
    models = project.root / "shop/models.py"
    with_status(project, "draft", "review", "published")
    models.write_text(
        models.read_text().replace(
            BOOK_TITLE, BOOK_TITLE + BOOK_STATUS.format('"draft", "review", "published"')
        )
    )
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    with_status(project, "draft", "published")
    models.write_text(
        models.read_text().replace(BOOK_STATUS.format('"draft", "review", "published"'), "")
    )
    pending, expected = answers(project.root)
    assert pending == expected

    made = project.run("makemigrations")

    assert made.exit_code == 0, made.output
    round_trip(project, "0001")
    assert "status" not in project.columns("book")
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"


WRAPPED = """
import sqlalchemy as sa


class Wrapped(sa.types.TypeDecorator[str]):
    impl = sa.Enum({}, name="wrapped")
    cache_ok = True
"""
WRAPPED_COLUMN = "    wrapped: Mapped[str | None] = mapped_column(shop.types.Wrapped())\n"


def test_an_enum_inside_a_type_decorator(project: Project) -> None:
    with_sa_import(project)
    project.write("shop/types.py", WRAPPED.format('"x", "y"'))
    project.edit(
        "shop/models.py",
        "import sqlalchemy as sa\n",
        "import sqlalchemy as sa\n\nimport shop.types\n",
    )
    project.edit("shop/models.py", AUTHOR_NAME, AUTHOR_NAME + WRAPPED_COLUMN)
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    project.write("shop/types.py", WRAPPED.format('"x", "y", "z"'))

    pending, expected = answers(project.root)
    made = project.run("makemigrations")
    applied = project.run("migrate")

    assert pending == expected
    assert made.exit_code == 0, made.output
    if project.dialect == "sqlite":  # VARCHAR(1) either way
        assert made.stdout == "No changes detected\n"
        return
    assert made.stdout.splitlines()[2] == (
        "    ~ Alter column wrapped on author (enum values: add 'z')"
    )
    assert applied.exit_code == 0, applied.output
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO author (name, wrapped) VALUES ('x', 'z')")
    engine.dispose()
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"


def test_a_default_of_an_enum_whose_name_has_a_digit(make_project: object) -> None:
    """PostgreSQL reflects the default as 'x'::status2: the cast is not a change."""
    project: Project = make_project("postgresql")  # type: ignore[operator]
    with_sa_import(project)
    column = (
        '    status: Mapped[str] = mapped_column(sa.Enum({}, name="status2"), server_default="x")\n'
    )
    project.edit("shop/models.py", AUTHOR_NAME, AUTHOR_NAME + column.format('"x", "y"'))
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    project.edit("shop/models.py", column.format('"x", "y"'), column.format('"x", "y", "z"'))

    check = project.run("makemigrations", "--check")
    made = project.run("makemigrations")

    line = "    ~ Alter column status on author (enum values: add 'z')"
    assert check.stdout.splitlines()[1:2] == [line]
    assert made.stdout.splitlines()[1:] == ["  migrations/0002_alter_author_status.py", line]
    assert project.run("migrate").exit_code == 0
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"


MOOD = """
from alembic import op

revision = "0002_mood"
down_revision = "0001_initial"


def upgrade() -> None:
    op.execute({!r})


def downgrade() -> None:
    pass
"""


@pytest.mark.parametrize(
    ("sql", "notice"),
    [
        (
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); "
            "CREATE TABLE person (id serial PRIMARY KEY, mood mood)",
            "CREATE TABLE person",
        ),
        ("ALTER TYPE status RENAME TO other_name", "RENAME TO other_name"),
        ("ALTER TYPE status RENAME TO status_old", "renames enum type status to status_old"),
    ],
)
def test_hand_written_type_ddl_is_not_taken_for_manages_own(
    make_project: object, sql: str, notice: str
) -> None:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    with_status(project, "draft", "published")
    project.run("makemigrations")
    project.write("migrations/0002_mood.py", MOOD.format(sql))
    project.write(
        "shop/models.py",
        (project.root / "shop/models.py")
        .read_text()
        .replace('"draft", "published"', '"draft", "published", "gone"'),
    )

    result = project.run("makemigrations", "--check")

    assert result.exit_code == 1, result.output  # the shadow database sees what the SQL did
    assert result.stderr.startswith("Migration 0002_mood "), result.stderr
    assert notice in result.stderr
    assert result.stderr.endswith("comparing against a shadow database instead.\n")


def test_squash_and_update_take_manages_own_enum_statements(project: Project) -> None:
    """ADD VALUE and a recreated type are schema changes manage writes anew, not hand-written
    SQL: squashmigrations does not warn about them, makemigrations --update rewrites them."""
    if project.dialect == "sqlite":
        pytest.skip("SQLite keeps a VARCHAR(9) throughout: no migrations to squash or update")
    with_status(project, "draft", "published")
    project.run("makemigrations")
    assert project.run("migrate").exit_code == 0
    with_status(project, "draft", "review", "published")
    project.run("makemigrations")
    with_status(project, "review", "published")
    project.run("makemigrations")
    with_status(project, "review", "published", "archived")

    updated = project.run("makemigrations", "--update")
    squashed = project.run("squashmigrations", "0002", "0003", "--no-input")

    assert updated.exit_code == 0, updated.output
    assert updated.stdout.splitlines()[1].endswith(
        "(updated: replaces 0003_alter_author_status.py)"
    )
    assert squashed.exit_code == 0, squashed.output
    assert "runs SQL" not in squashed.output
    assert project.migrations()[1:] == ["0003_alter_author_status.py"]
    applied = project.run("migrate")
    assert applied.exit_code == 0, applied.output
    assert (
        column_type(project)
        == {
            "postgresql": ["review", "published", "archived"],
            "mariadb": "enum('review','published','archived')",
        }[project.dialect]
    )
    assert project.run("makemigrations", "--check").stdout == "No changes detected\n"
