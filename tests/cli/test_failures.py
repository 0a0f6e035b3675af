"""A migration that fails mid-history: exit 3, what failed and where, and what was left behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tests.cli.test_history import history
from tests.conftest import Project, Result

FIRST = '''
"""first"""

import sqlalchemy as sa
from alembic import op

revision = "0001_author"
down_revision = None




def upgrade() -> None:
    op.create_table("author", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("INSERT INTO author (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("author")
'''

# Three changes, then an operation the database refuses.
BROKEN = '''
"""broken"""

import sqlalchemy as sa
from alembic import op

revision = "0002_broken"
down_revision = "0001_author"


def upgrade() -> None:
    op.add_column("author", sa.Column("nickname", sa.String(50)))
    op.create_table("book", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("UPDATE author SET nickname = 'x'")
    op.create_index(
        "ix_nowhere",
        "no_such_table",
        ["title"],
    )


def downgrade() -> None:
    op.drop_table("book")
    op.drop_column("author", "nickname")
'''

RAISES = '''
"""raises"""

from alembic import op

revision = "0003_raises"
down_revision = "0002_fixed"


def upgrade() -> None:
    op.execute("DELETE FROM author")
    raise RuntimeError("the data is not what this migration expects")


def downgrade() -> None:
    pass
'''

ERRORS = {
    "sqlite": "no such table: main.no_such_table",
    "postgresql": 'relation "no_such_table" does not exist',
    "mariadb": "no_such_table' doesn't exist",
}


def rows(project: Project, sql: str) -> list[tuple[object, ...]]:
    engine = project.engine()
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.exec_driver_sql(sql)]
    engine.dispose()
    return found


FELL_BACK = (
    "Applying step by step, not in one pass: Migration 0001_author runs SQL of its own or "
    "reads rows (op.execute or op.get_bind()), which the replay cannot repeat exactly.\n"
)


def _error(result: Result, first: str = "0001_author") -> str:
    """The error on stderr, after the line saying why the empty database is not fast-forwarded
    (the first migration inserts a row, issue 15)."""
    fell_back = FELL_BACK.replace("0001_author", first)
    assert result.stderr.startswith(fell_back), result.stderr
    return result.stderr.removeprefix(fell_back)


def test_a_failing_migration_names_file_operation_and_error(project: Project) -> None:
    project.write("migrations/0001_author.py", FIRST)
    project.write("migrations/0002_broken.py", BROKEN)

    result = project.run("migrate")

    assert result.exit_code == 3
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_author... OK",
        "  Applying 0002_broken...",
    ]
    assert "Traceback" not in result.output
    stderr = " ".join(_error(result).split())
    assert stderr.startswith(
        "Error: Migration 0002_broken (migrations/0002_broken.py, line 14) failed while applying "
        'op.create_index("ix_nowhere", "no_such_table", ["title"]): '
    ), stderr
    assert ERRORS[project.dialect] in stderr
    assert project.version() == {"0001_author"}
    assert [(r[0], r[1]) for r in history(project)] == [("0001_author", "apply")]
    assert rows(project, "SELECT id FROM author") == [(1,)]
    if project.dialect == "mariadb":
        # DDL commits implicitly there: the message lists what ran and how to recover.
        assert stderr.endswith(
            "MySQL/MariaDB cannot roll back DDL, so what these statements of it did before the "
            "error stays applied: ALTER TABLE author ADD COLUMN nickname VARCHAR(50); CREATE "
            "TABLE book ( id INTEGER NOT NULL AUTO_INCREMENT, PRIMARY KEY (id) ); UPDATE author "
            "SET nickname = 'x'. The database still records 0001_author: undo those statements "
            "by hand (or finish them and record the migration with 'manage migrate 0002_broken "
            "--fake'), correct the cause, then run migrate again."
        ), stderr
        assert "nickname" in project.columns("author")
        assert "book" in project.tables()
    else:
        assert stderr.endswith(
            "Its changes were rolled back; the database stays at 0001_author. Correct the cause "
            "(the migration file, or the database it runs on), then run migrate again."
        ), stderr
        assert project.columns("author") == ["id"]
        assert project.tables() == {"alembic_version", "author"}


def test_a_migration_raising_a_python_error_rolls_its_data_back(project: Project) -> None:
    project.write("migrations/0001_author.py", FIRST)
    project.write(
        "migrations/0002_fixed.py",
        BROKEN.replace("0002_broken", "0002_fixed")
        .replace('"no_such_table"', '"book"')
        .replace('["title"]', '["id"]'),
    )
    project.write("migrations/0003_raises.py", RAISES)

    result = project.run("migrate")

    assert result.exit_code == 3
    stderr = " ".join(_error(result).split())
    assert stderr.startswith(
        "Error: Migration 0003_raises (migrations/0003_raises.py, line 11) failed while applying "
        'raise RuntimeError("the data is not what this migration expects"): RuntimeError: the '
        "data is not what this migration expects ("
    ), stderr
    assert project.version() == {"0002_fixed"}
    # The DELETE ran in the migration's transaction, which was rolled back, even on MariaDB.
    assert rows(project, "SELECT id, nickname FROM author") == [(1, "x")]
    engine = project.engine()
    with engine.connect() as connection:
        assert [i["name"] for i in sa.inspect(connection).get_indexes("book")] == ["ix_nowhere"]
    engine.dispose()

    project.write("migrations/0003_raises.py", RAISES.replace("    raise RuntimeError", "    # "))
    again = project.run("migrate")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == "  Applying 0003_raises... OK"
    assert project.version() == {"0003_raises"}


ALTER_WITHOUT_TYPE = """
import sqlalchemy as sa
from alembic import op

revision = "0002_isbn"
down_revision = "0001_author"


def upgrade() -> None:
    op.add_column("author", sa.Column("isbn", sa.String(13)))
    op.alter_column("author", "isbn", nullable=False)


def downgrade() -> None:
    op.drop_column("author", "isbn")
"""


def test_an_alembic_error_inside_a_migration_is_a_migration_failure(
    make_project: Callable[[str], Project],
) -> None:
    project = make_project("mariadb")
    project.write("migrations/0001_author.py", FIRST)
    project.write("migrations/0002_isbn.py", ALTER_WITHOUT_TYPE)

    result = project.run("migrate")

    assert result.exit_code == 3
    assert _error(result) == (
        "Error: Migration 0002_isbn (migrations/0002_isbn.py, line 10) failed while applying "
        'op.alter_column("author", "isbn", nullable=False): All MySQL CHANGE/MODIFY COLUMN '
        "operations require the existing type. MySQL/MariaDB cannot roll back DDL, so what "
        "these statements of it did before the error stays applied: ALTER TABLE author ADD "
        "COLUMN isbn VARCHAR(13). The database still records 0001_author: undo those "
        "statements by hand (or finish them and record the migration with 'manage migrate "
        "0002_isbn --fake'), correct the cause, then run migrate again.\n"
    )
    assert project.version() == {"0001_author"}


AUTOCOMMIT = '''
"""autocommit"""

import sqlalchemy as sa
from alembic import op

revision = "0002_autocommit"
down_revision = "0001_author"


def upgrade() -> None:
    op.create_table("tag", sa.Column("id", sa.Integer, primary_key=True))
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX{concurrently} ix_author_id ON author (id)")
    op.execute("INSERT INTO tag (id) VALUES (1)")
    op.execute("INSERT INTO no_such_table (id) VALUES (1)")


def downgrade() -> None:
    op.drop_index("ix_author_id", "author")
    op.drop_table("tag")
'''


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_a_failure_after_an_autocommit_block_says_what_committed(project: Project) -> None:
    """autocommit_block() commits the migration's transaction so far, then runs its block in
    autocommit: those statements stay, and the message lists them."""
    concurrently = " CONCURRENTLY" if project.dialect == "postgresql" else ""
    project.write("migrations/0001_author.py", FIRST)
    project.write("migrations/0002_autocommit.py", AUTOCOMMIT.format(concurrently=concurrently))

    result = project.run("migrate")

    assert result.exit_code == 3
    error = result.stderr
    assert "Its changes were rolled back" not in error
    assert (
        " What ran before and inside op.get_context().autocommit_block() was committed and "
        "stays: CREATE TABLE tag ("
    ) in error
    assert (
        f"CREATE INDEX{concurrently} ix_author_id ON author (id). The rest of it was rolled back "
        "(INSERT INTO tag (id) VALUES (1)). The database still records 0001_author: undo those "
        "statements by hand (or finish the migration by hand and record it with 'manage migrate "
        "0002_autocommit --fake'), correct the cause, then run migrate again.\n"
    ) in error, error
    assert project.version() == {"0001_author"}
    assert "tag" in project.tables()


DEFERRED = '''
"""deferred"""

import sqlalchemy as sa
from alembic import op

revision = "0002_deferred"
down_revision = "0001_author"


def upgrade() -> None:
    op.create_table(
        "book",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer),
        sa.ForeignKeyConstraint(
            ["author_id"], ["author.id"], deferrable=True, initially="DEFERRED"
        ),
    )
    op.execute("INSERT INTO book (id, author_id) VALUES (1, 42)")


def downgrade() -> None:
    op.drop_table("book")
'''


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_a_failure_at_commit_prints_no_ok(project: Project) -> None:
    """A deferred foreign key is checked at COMMIT: the migration is not OK before that."""
    project.write("migrations/0001_author.py", FIRST)
    project.write("migrations/0002_deferred.py", DEFERRED)

    result = project.run("migrate")

    assert result.exit_code == 3
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_author... OK",
        "  Applying 0002_deferred...",
    ]
    error = _error(result)
    assert error.startswith("Error: Migration 0002_deferred (migrations/0002_deferred.py")
    assert 'violates foreign key constraint "book_author_id_fkey"' in error
    assert "Its changes were rolled back; the database stays at 0001_author." in error
    assert project.version() == {"0001_author"}
    assert "book" not in project.tables()


TAGS = '''
"""tags"""

import sqlalchemy as sa
from alembic import op

revision = "0001_tags"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "tag", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20))
    )
    op.execute("INSERT INTO tag (id, name) VALUES (1, 'sf'), (2, 'sf')")


def downgrade() -> None:
    op.drop_table("tag")
'''

UNIQUE_CONCURRENTLY = '''
"""unique"""

from alembic import op

revision = "0002_unique"
down_revision = "0001_tags"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_tag_name", "tag", ["name"], unique=True, postgresql_concurrently=True
        )


def downgrade() -> None:
    op.drop_index("ix_tag_name", "tag")
'''


INVALID = (
    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE NOT i.indisvalid"
)
FAILED_BUILD = (
    "Error: Migration 0002_unique (migrations/0002_unique.py, line 11) failed while applying "
    'op.create_index("ix_tag_name", "tag", ["name"], unique=True, postgresql_concurrently=True): '
    'could not create unique index "ix_tag_name". PostgreSQL left the index ix_tag_name behind, '
    "INVALID, as a failed CREATE INDEX CONCURRENTLY does: {what} Its other changes were rolled "
    "back; the database stays at 0001_tags. Correct the cause (the migration file, or the "
    "database it runs on), then run migrate again.\n"
)
DROPPED_NEXT_TIME = "the next 'manage migrate' drops it before building it again."
DROP_IT = (
    "drop it with 'DROP INDEX CONCURRENTLY ix_tag_name' before running migrate again (with "
    "ddl_lock_timeout = 0, migrate does not drop it)."
)


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_a_failed_concurrent_index_build_names_the_invalid_index_it_left(
    project: Project,
) -> None:
    """A CREATE INDEX CONCURRENTLY that fails (duplicate rows for a unique index) leaves its
    index behind, INVALID: the message names it, not "rolled back", and says that the next
    migrate drops it before building it again, which it does."""
    project.write("migrations/0001_tags.py", TAGS)
    project.write("migrations/0002_unique.py", UNIQUE_CONCURRENTLY)

    result = project.run("migrate")

    assert result.exit_code == 3
    assert _error(result, "0001_tags") == FAILED_BUILD.format(what=DROPPED_NEXT_TIME)
    assert rows(project, INVALID) == [("ix_tag_name",)]
    assert project.version() == {"0001_tags"}
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM tag WHERE id = 2")
    engine.dispose()
    again = project.run("migrate")
    assert again.exit_code == 0, again.output
    assert project.version() == {"0002_unique"}
    assert rows(project, INVALID) == []
    assert rows(project, "SELECT indexname FROM pg_indexes WHERE tablename = 'tag'") == [
        ("tag_pkey",),
        ("ix_tag_name",),
    ]


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_a_failed_concurrent_index_build_after_a_commit_names_both(project: Project) -> None:
    """The build fails after statements the autocommit block committed: those stay and are
    listed, and the INVALID index is named too."""
    project.write("migrations/0001_tags.py", TAGS)
    before = "    with op.get_context().autocommit_block():\n"
    project.write(
        "migrations/0002_unique.py",
        UNIQUE_CONCURRENTLY.replace(
            before, '    op.execute("UPDATE tag SET name = upper(name)")\n' + before
        ),
    )

    result = project.run("migrate")

    assert result.exit_code == 3
    assert _error(result, "0001_tags") == (
        "Error: Migration 0002_unique (migrations/0002_unique.py, line 12) failed while "
        'applying op.create_index("ix_tag_name", "tag", ["name"], unique=True, '
        'postgresql_concurrently=True): could not create unique index "ix_tag_name". '
        "PostgreSQL left the index ix_tag_name behind, INVALID, as a failed CREATE INDEX "
        "CONCURRENTLY does: the next 'manage migrate' drops it before building it again. "
        "What ran before and inside op.get_context().autocommit_block() was committed and "
        "stays: UPDATE tag SET name = upper(name). The rest of it was rolled back. The database "
        "still records 0001_tags: undo those statements by hand (or finish the migration by "
        "hand and record it with 'manage migrate 0002_unique --fake'), correct the cause, then "
        "run migrate again.\n"
    )
    assert rows(project, INVALID) == [("ix_tag_name",)]
    assert rows(project, "SELECT name FROM tag ORDER BY id") == [("SF",), ("SF",)]


@pytest.mark.parametrize("dialect", ["postgresql"])
def test_without_a_lock_timeout_the_invalid_index_is_the_users_to_drop(project: Project) -> None:
    """Only the DDL lock guard drops an INVALID index before a concurrent build; with
    ddl_lock_timeout = 0 it is not installed, so the message says to drop it by hand."""
    project.write("migrations/0001_tags.py", TAGS)
    project.write("migrations/0002_unique.py", UNIQUE_CONCURRENTLY)

    result = project.run("migrate", "--ddl-lock-timeout", "0")

    assert result.exit_code == 3
    assert _error(result, "0001_tags") == FAILED_BUILD.format(what=DROP_IT)
    engine = project.engine()
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM tag WHERE id = 2")
    engine.dispose()
    kept = project.run("migrate", "--ddl-lock-timeout", "0")
    assert kept.exit_code == 3, "the INVALID index is still there: the build collides with it"
    assert 'relation "ix_tag_name" already exists' in kept.stderr, kept.stderr
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("DROP INDEX CONCURRENTLY ix_tag_name")
    engine.dispose()
    assert project.run("migrate", "--ddl-lock-timeout", "0").exit_code == 0
    assert rows(project, INVALID) == []
