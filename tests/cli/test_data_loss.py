"""Unapplying migrations that drop tables or columns with rows needs a yes or --allow-data-loss."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.cli.test_locking import write_audited_history
from tests.conftest import BIN, Project

NICKNAME = '''
"""nickname"""

import sqlalchemy as sa
from alembic import op

revision = "0004_nickname"
down_revision = "0003_book"


def upgrade() -> None:
    op.add_column("author", sa.Column("nickname", sa.String(50)))


def downgrade() -> None:
    with op.batch_alter_table("author") as batch:
        batch.drop_column("nickname")
'''

AT_RISK = (
    "\n  0004_nickname: drops column author.nickname (has values)"
    "\n  0003_book: drops table book (has rows)"
)


def migrated_with_data(project: Project) -> None:
    write_audited_history(project)
    project.write("migrations/0004_nickname.py", NICKNAME)
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO author (id, name, nickname) VALUES (1, 'Ann', 'A'), (2, 'Bo', NULL)"
        )
        connection.exec_driver_sql(
            "INSERT INTO book (id, title, author_id) VALUES (1, 'One', 1), (2, 'Two', 2)"
        )
    engine.dispose()


def test_unapplying_data_needs_allow_data_loss(project: Project) -> None:
    migrated_with_data(project)

    refused = project.run("migrate", "0002")

    assert refused.exit_code == 3
    assert refused.stdout == ""
    assert refused.stderr == (
        f"Error: Unapplying would delete data:{AT_RISK}\nBack it up if you need it, then run "
        "again with --allow-data-loss (or answer the prompt in a terminal).\n"
    )
    assert project.version() == {"0004_nickname"}
    assert "nickname" in project.columns("author")

    allowed = project.run("migrate", "0002", "--allow-data-loss")

    assert allowed.exit_code == 0, allowed.output
    assert allowed.stdout.splitlines()[-2:] == [
        "  Unapplying 0004_nickname... OK",
        "  Unapplying 0003_book... OK",
    ]
    assert project.version() == {"0002_author"}
    assert "book" not in project.tables()

    # Nothing to lose (the column is empty, the table gone): no question asked.
    assert project.run("migrate").exit_code == 0
    assert project.run("migrate", "0003").exit_code == 0
    assert project.version() == {"0003_book"}


def answer(project: Project, reply: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage ARGS`` with a terminal as stdin, typing ``reply``."""
    controller, terminal = os.openpty()
    try:
        run = subprocess.Popen(
            [str(BIN / "manage"), "--no-color", *args],
            cwd=project.root,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        os.write(controller, f"{reply}\n".encode())
        out, err = run.communicate(timeout=120)
    finally:
        os.close(controller)
    return subprocess.CompletedProcess(run.args, run.returncode, out, err)


def test_in_a_terminal_unapplying_data_asks_first(sqlite_project: Project) -> None:
    migrated_with_data(sqlite_project)
    question = (
        "Unapplying these migrations deletes data:\n"
        "  0004_nickname: drops column author.nickname (has values)\n"
        "  0003_book: drops table book (has rows)\n"
        "Unapply them anyway? [y/N]:"  # click writes the space after it to stdout
    )

    declined = answer(sqlite_project, "n", "migrate", "0002")

    assert declined.returncode == 3
    assert declined.stderr == (
        f"{question}Error: Nothing was unapplied; the data was kept:{AT_RISK}\n"
    )
    assert sqlite_project.version() == {"0004_nickname"}

    accepted = answer(sqlite_project, "y", "migrate", "0002")

    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stderr == question
    assert accepted.stdout.splitlines()[-1] == "  Unapplying 0003_book... OK"
    assert sqlite_project.version() == {"0002_author"}


UNKNOWABLE = '''
"""{rev}"""

from alembic import op

revision = "{rev}"
down_revision = "{down}"


def upgrade() -> None:
    pass


def downgrade() -> None:
    {downgrade}
'''


def test_unapplying_sql_that_deletes_or_code_that_reads_needs_a_yes(
    sqlite_project: Project,
) -> None:
    """What manage cannot tell without running it counts as data that may be lost."""
    write_audited_history(sqlite_project)
    for rev, down, downgrade in (
        ("0004_purge", "0003_book", "op.execute(\"DELETE FROM audit_log WHERE revision = 'x'\")"),
        ("0005_reads", "0004_purge", 'op.get_bind().exec_driver_sql("SELECT 1").scalar()'),
        ("0006_harmless", "0005_reads", "op.execute(\"UPDATE audit_log SET revision = 'y'\")"),
    ):
        sqlite_project.write(
            f"migrations/{rev}.py", UNKNOWABLE.format(rev=rev, down=down, downgrade=downgrade)
        )
    assert sqlite_project.run("migrate").exit_code == 0

    refused = sqlite_project.run("migrate", "0003")
    harmless = sqlite_project.run("migrate", "0005")

    assert refused.exit_code == 3
    assert refused.stderr.startswith(
        "Error: Unapplying may delete data:\n  0005_reads: its downgrade() cannot be inspected "
        "without running it (Migration 0005_reads cannot be replayed without a database: "
    )
    assert refused.stderr.endswith(
        'what it deletes is unknown)\n  0004_purge: runs "DELETE FROM audit_log WHERE revision '
        "= 'x'\" (may delete data)\nBack it up if you need it, then run again with "
        "--allow-data-loss (or answer the prompt in a terminal).\n"
    )
    assert harmless.exit_code == 0, harmless.output
    assert sqlite_project.version() == {"0005_reads"}


MIGRATION = '''
"""{rev}"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''


def write_history(project: Project, *steps: tuple[str, str, str]) -> None:
    """Migrations ``(revision, upgrade, downgrade)``, each on top of the one before."""
    down = None
    for rev, upgrade, downgrade in steps:
        project.write(
            f"migrations/{rev}.py",
            MIGRATION.format(rev=rev, down=down, upgrade=upgrade, downgrade=downgrade),
        )
        down = rev


def insert(project: Project, *statements: str) -> None:
    engine = project.engine()
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


REFUSED_END = (
    "\nBack it up if you need it, then run again with --allow-data-loss (or answer the prompt "
    "in a terminal).\n"
)


def test_a_table_renamed_then_dropped_in_one_run_is_followed(project: Project) -> None:
    """0002 renamed legacy_book to book: unapplying both drops book's rows as legacy_book."""
    write_history(
        project,
        (
            "0001_legacy",
            'op.create_table("legacy_book", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("legacy_book")',
        ),
        (
            "0002_rename",
            'op.rename_table("legacy_book", "book")',
            'op.rename_table("book", "legacy_book")',
        ),
    )
    assert project.run("migrate").exit_code == 0
    insert(project, "INSERT INTO book (id) VALUES (1)")

    refused = project.run("migrate", "zero", input="")

    assert refused.exit_code == 3
    assert refused.stderr == (
        "Error: Unapplying would delete data:\n  0001_legacy: drops table legacy_book "
        f"(has rows, as table book now){REFUSED_END}"
    )
    assert project.version() == {"0002_rename"}
    assert "book" in project.tables()


def test_a_column_renamed_then_dropped_in_one_run_is_followed(project: Project) -> None:
    write_history(
        project,
        (
            "0001_author",
            'op.create_table("author", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("author")',
        ),
        (
            "0002_nick",
            'op.add_column("author", sa.Column("nick", sa.String(50)))',
            'op.drop_column("author", "nick")',
        ),
        (
            "0003_rename",
            'op.alter_column("author", "nick", new_column_name="nickname", '
            "existing_type=sa.String(50))",
            'op.alter_column("author", "nickname", new_column_name="nick", '
            "existing_type=sa.String(50))",
        ),
    )
    assert project.run("migrate").exit_code == 0
    insert(project, "INSERT INTO author (id, nickname) VALUES (1, 'A')")

    refused = project.run("migrate", "0001", input="")

    assert refused.exit_code == 3
    assert refused.stderr == (
        "Error: Unapplying would delete data:\n  0002_nick: drops column author.nick "
        f"(has values, as column author.nickname now){REFUSED_END}"
    )
    assert project.version() == {"0003_rename"}
    assert "nickname" in project.columns("author")


def test_a_table_dropped_and_made_again_in_one_run_is_empty_the_second_time(
    sqlite_project: Project,
) -> None:
    """Each step sees the schema as the steps before it leave it: the book that 0001's
    downgrade drops is the one 0002's downgrade made, not the one holding rows now."""
    write_history(
        sqlite_project,
        (
            "0001_book",
            'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("book")',
        ),
        (
            "0002_remake",
            'op.drop_table("book")\n    '
            'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("book")\n    '
            'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True))',
        ),
    )
    assert sqlite_project.run("migrate").exit_code == 0
    insert(sqlite_project, "INSERT INTO book (id) VALUES (1)")

    refused = sqlite_project.run("migrate", "zero", input="")

    assert refused.exit_code == 3
    assert refused.stderr == (
        "Error: Unapplying would delete data:\n  0002_remake: drops table book (has rows)"
        f"{REFUSED_END}"
    )


SQL_THAT_DELETES = [
    ('op.execute("/* cleanup */ DROP TABLE book")', "/* cleanup */ DROP TABLE book"),
    ('op.execute("ALTER TABLE book DROP nick")', "ALTER TABLE book DROP nick"),
    ('op.execute(sa.text("\\n  truncate book"))', "truncate book"),
    ('op.execute(sa.DDL("DROP TABLE book"))', "DROP TABLE book"),
    (
        'op.execute(sa.schema.DropTable(sa.table("book")))',
        "DROP TABLE book",
    ),
    ('op.execute(sa.delete(sa.table("book")))', "DELETE FROM book"),
    (
        'op.execute("UPDATE book SET nick = NULL; DELETE FROM book")',
        "UPDATE book SET nick = NULL; DELETE FROM book",
    ),
]


@pytest.mark.parametrize(("downgrade", "shown"), SQL_THAT_DELETES)
def test_sql_that_drops_or_deletes_anywhere_needs_a_yes(
    project: Project, downgrade: str, shown: str
) -> None:
    write_history(
        project,
        (
            "0001_book",
            'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("nick", sa.String(50)))',
            'op.drop_table("book")',
        ),
        ("0002_cleanup", "pass", downgrade),
    )
    assert project.run("migrate").exit_code == 0

    refused = project.run("migrate", "0001", input="")

    assert refused.exit_code == 3
    assert refused.stderr == (
        f"Error: Unapplying may delete data:\n  0002_cleanup: runs {shown!r} (may delete data)"
        f"{REFUSED_END}"
    )
    assert project.version() == {"0002_cleanup"}


@pytest.mark.parametrize(
    "downgrade",
    [
        "op.execute(\"UPDATE book SET nick = 'DROP TABLE book'\")",
        'op.execute("-- no DELETE here\\nUPDATE book SET nick = NULL")',
        'op.execute(sa.schema.CreateIndex(sa.Index("ix_nick", '
        'sa.Table("book", sa.MetaData(), sa.Column("nick", sa.String(50))).c.nick)))',
    ],
)
def test_sql_that_only_mentions_drop_in_a_string_or_comment_is_harmless(
    sqlite_project: Project, downgrade: str
) -> None:
    write_history(
        sqlite_project,
        (
            "0001_book",
            'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("nick", sa.String(50)))',
            'op.drop_table("book")',
        ),
        ("0002_cleanup", "pass", downgrade),
    )
    assert sqlite_project.run("migrate").exit_code == 0

    done = sqlite_project.run("migrate", "0001", input="")

    assert done.exit_code == 0, done.output
    assert sqlite_project.version() == {"0001_book"}


def test_a_rename_in_sql_makes_later_drops_unknown(sqlite_project: Project) -> None:
    """SQL that changes the schema cannot be followed: a table dropped after it that is not in
    the database now may be the renamed one, so it counts as data that may be lost."""
    write_history(
        sqlite_project,
        (
            "0001_legacy",
            'op.create_table("legacy_book", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("legacy_book")',
        ),
        (
            "0002_rename",
            'op.execute("ALTER TABLE legacy_book RENAME TO book")',
            'op.execute("ALTER TABLE book RENAME TO legacy_book")',
        ),
    )
    assert sqlite_project.run("migrate").exit_code == 0
    insert(sqlite_project, "INSERT INTO book (id) VALUES (1)")

    refused = sqlite_project.run("migrate", "zero", input="")

    assert refused.exit_code == 3
    assert refused.stderr == (
        "Error: Unapplying may delete data:\n  0001_legacy: drops table legacy_book (not in the "
        "database now, but 0002_rename runs 'ALTER TABLE book RENAME TO legacy_book' before "
        f"it){REFUSED_END}"
    )


def test_sql_run_through_get_bind_that_deletes_needs_a_yes(project: Project) -> None:
    write_history(
        project,
        (
            "0001_book",
            'op.create_table("book", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("book")',
        ),
        ("0002_purge", "pass", 'op.get_bind().execute(sa.text("DELETE FROM book"))'),
    )
    assert project.run("migrate").exit_code == 0

    refused = project.run("migrate", "0001", input="")

    assert refused.exit_code == 3
    assert refused.stderr == (
        "Error: Unapplying may delete data:\n  0002_purge: runs 'DELETE FROM book' through "
        f"op.get_bind() (may delete data){REFUSED_END}"
    )
