"""Unapplying migrations that drop tables or columns with rows needs a yes or --allow-data-loss."""

from __future__ import annotations

import os
import subprocess

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
    "0004_nickname: drops column author.nickname (has values); "
    "0003_book: drops table book (has rows)"
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
        f"Error: Unapplying would delete data: {AT_RISK}. Back it up if you need it, then run "
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
        f"{question}Error: Nothing was unapplied; the data was kept ({AT_RISK}).\n"
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
        "Error: Unapplying may delete data: 0005_reads: its downgrade() cannot be inspected "
        "without running it (Migration 0005_reads cannot be replayed without a database: "
    )
    assert refused.stderr.endswith(
        'what it deletes is unknown); 0004_purge: runs "DELETE FROM audit_log WHERE revision '
        "= 'x'\" (may delete data). Back it up if you need it, then run again with "
        "--allow-data-loss (or answer the prompt in a terminal).\n"
    )
    assert harmless.exit_code == 0, harmless.output
    assert sqlite_project.version() == {"0005_reads"}
