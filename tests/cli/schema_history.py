"""A hand-written migration history for the ``manage schema`` tests: foreign keys, indexes, a
named enum, a table rename and a column rename, written the way ``makemigrations`` writes them
(batch mode, the enum type created through ``op.get_bind()``), so they run on all three
databases."""

from __future__ import annotations

from tests.conftest import Project

HEADER = '''"""{doc}

Revision ID: {rev}
Revises: {down}
Create Date: {date}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down_repr}
branch_labels = {labels}
depends_on = None

'''

INITIAL = """
def upgrade():
    op.create_table(
        "author",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_author"),
    )
    op.create_table(
        "book",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["author.id"], name="fk_book_author_id_author"),
        sa.PrimaryKeyConstraint("id", name="pk_book"),
    )
    with op.batch_alter_table("book") as batch_op:
        batch_op.create_index("ix_book_title", ["title"], unique=False)


def downgrade():
    with op.batch_alter_table("book") as batch_op:
        batch_op.drop_index("ix_book_title")
    op.drop_table("book")
    op.drop_table("author")
"""

STATUS = """
def upgrade():
    sa.Enum("draft", "published", name="book_status").create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("book") as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum("draft", "published", name="book_status", create_type=False),
                nullable=True,
            )
        )
        batch_op.create_index("ix_book_status", ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("book") as batch_op:
        batch_op.drop_index("ix_book_status")
        batch_op.drop_column("status")
    sa.Enum(name="book_status").drop(op.get_bind(), checkfirst=True)
"""

RENAMES = """
def upgrade():
    op.rename_table("author", "writer")
    with op.batch_alter_table("book") as batch_op:
        batch_op.alter_column(
            "title", new_column_name="name", existing_type=sa.String(length=200),
            existing_nullable=False,
        )


def downgrade():
    with op.batch_alter_table("book") as batch_op:
        batch_op.alter_column(
            "name", new_column_name="title", existing_type=sa.String(length=200),
            existing_nullable=False,
        )
    op.rename_table("writer", "author")
"""

ISBN = """
def upgrade():
    with op.batch_alter_table("book") as batch_op:
        batch_op.add_column(sa.Column("isbn", sa.String(length=13), nullable=True))
        batch_op.create_unique_constraint("uq_book_isbn", ["isbn"])
        batch_op.alter_column(
            "name", existing_type=sa.String(length=200), type_=sa.String(length=300),
            existing_nullable=False,
        )


def downgrade():
    with op.batch_alter_table("book") as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.String(length=300), type_=sa.String(length=200),
            existing_nullable=False,
        )
        batch_op.drop_constraint("uq_book_isbn", type_="unique")
        batch_op.drop_column("isbn")
"""

HISTORY = [
    ("0001_initial", None, "2026-01-10 09:00:00.000000", INITIAL),
    ("0002_add_book_status", "0001_initial", "2026-01-11 10:30:00.000000", STATUS),
    ("0003_rename_author", "0002_add_book_status", "2026-01-12 11:45:00.000000", RENAMES),
    ("0004_add_book_isbn", "0003_rename_author", "2026-01-13 12:15:00.000000", ISBN),
]


def write_migration(
    project: Project,
    rev: str,
    down: str | None,
    body: str,
    *,
    date: str = "2026-01-20 08:00:00.000000",
    labels: tuple[str, ...] | None = None,
) -> None:
    header = HEADER.format(
        doc=rev.partition("_")[2].replace("_", " ").capitalize(),
        rev=rev,
        down=down or "",
        down_repr=repr(down),
        date=date,
        labels=repr(labels),
    )
    project.write(f"migrations/{rev}.py", header + body.lstrip("\n"))


def write_history(project: Project) -> None:
    """The four migrations of :data:`HISTORY` in the project's migrations folder."""
    for rev, down, date, body in HISTORY:
        write_migration(project, rev, down, body, date=date)
