"""manage schema: the DDL, diff, blame and Mermaid diagram of the schema at any revision, from
the migration history replayed in memory; no database is opened."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.cli.schema_history import write_history, write_migration
from tests.conftest import Project

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"

HEAD_SQLITE = """\
CREATE TABLE writer (
    id INTEGER NOT NULL,
    name VARCHAR(100) NOT NULL,
    CONSTRAINT pk_author PRIMARY KEY (id)
);

CREATE TABLE book (
    id INTEGER NOT NULL,
    name VARCHAR(300) NOT NULL,
    author_id INTEGER,
    status VARCHAR(9),
    isbn VARCHAR(13),
    CONSTRAINT pk_book PRIMARY KEY (id),
    CONSTRAINT fk_book_author_id_author FOREIGN KEY(author_id) REFERENCES writer (id),
    CONSTRAINT uq_book_isbn UNIQUE (isbn)
);

CREATE INDEX ix_book_status ON book (status);

CREATE INDEX ix_book_title ON book (name);
"""


@pytest.fixture
def history(sqlite_project: Project) -> Project:
    """The shop project with four hand-written migrations (FKs, indexes, an enum, renames)."""
    write_history(sqlite_project)
    return sqlite_project


def ok(project: Project, *args: str) -> list[str]:
    result = project.run("schema", *args)
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    return result.stdout.splitlines()


def fails(project: Project, *args: str, code: int = 3) -> str:
    """The one line on stderr of a ``manage schema`` that must fail with ``code``."""
    result = project.run("schema", *args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# -- the DDL ----------------------------------------------------------------------------------


def test_the_ddl_at_head_for_the_project_dialect(history: Project) -> None:
    result = history.run("schema")

    assert (result.exit_code, result.stdout, result.stderr) == (0, HEAD_SQLITE, "")
    assert not history.database_exists(), "replayed in memory: the database is not created"


def test_the_ddl_at_an_earlier_revision_named_each_way_migrate_accepts(history: Project) -> None:
    by_prefix = ok(history, "0002")

    assert by_prefix[0] == "CREATE TABLE author ("
    assert "    title VARCHAR(200) NOT NULL," in by_prefix
    assert "    status VARCHAR(9)," in by_prefix
    assert "    isbn VARCHAR(13)," not in by_prefix
    for same in ("0002_add_book_status", "add_book_status"):
        assert ok(history, same) == by_prefix, same
    assert ok(history, "head") == HEAD_SQLITE.splitlines()
    assert ok(history, "zero") == ["-- The schema at zero has no tables."]


def test_postgresql_ddl_creates_the_enum_type_with_no_database(history: Project) -> None:
    lines = ok(history, "--dialect", "postgresql")

    assert lines[0] == "CREATE TYPE book_status AS ENUM ('draft', 'published');"
    assert "    id SERIAL NOT NULL," in lines
    assert "    status book_status," in lines


def test_mariadb_and_mysql_ddl(history: Project) -> None:
    for dialect in ("mariadb", "mysql"):
        lines = ok(history, "--dialect", dialect)
        assert "    id INTEGER NOT NULL AUTO_INCREMENT," in lines
        assert "    status ENUM('draft','published')," in lines
        assert not [line for line in lines if line.startswith("CREATE TYPE")]


def test_the_project_dialect_is_used_and_its_unreachable_server_is_never_contacted(
    history: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)  # nothing listens on port 1

    lines = ok(history)

    assert lines[0] == "CREATE TYPE book_status AS ENUM ('draft', 'published');"
    assert "    id SERIAL NOT NULL," in lines


CYCLE = """
def upgrade():
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("captain_id", sa.Integer(), comment="The player who leads"),
        comment="A team",
    )
    op.create_table(
        "player",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id", name="fk_player_team")),
    )
    with op.batch_alter_table("team") as batch_op:
        batch_op.create_foreign_key("fk_team_captain", "player", ["captain_id"], ["id"])


def downgrade():
    pass
"""


def test_postgresql_comments_and_a_foreign_key_cycle(sqlite_project: Project) -> None:
    write_migration(sqlite_project, "0001_initial", None, CYCLE)

    lines = ok(sqlite_project, "--dialect", "postgresql")

    assert "COMMENT ON TABLE team IS 'A team';" in lines
    assert "COMMENT ON COLUMN team.captain_id IS 'The player who leads';" in lines
    assert lines[-3:] == [
        "ALTER TABLE player ADD CONSTRAINT fk_player_team FOREIGN KEY(team_id) REFERENCES team "
        "(id);",
        "",
        "ALTER TABLE team ADD CONSTRAINT fk_team_captain FOREIGN KEY(captain_id) REFERENCES "
        "player (id);",
    ]
    assert not [line for line in lines if "FOREIGN KEY" in line and line.startswith("    ")]
    mermaid = ok(sqlite_project, "--mermaid")
    assert '    player |o--o{ team : "captain_id"' in mermaid
    assert '        INTEGER captain_id FK "The player who leads"' in mermaid


# -- the diff ---------------------------------------------------------------------------------


def test_diff_shows_operations_with_the_renames_the_history_made(history: Project) -> None:
    forwards = ok(history, "--diff", "0001", "head")
    backwards = ok(history, "--diff", "head", "0001")

    assert forwards == [
        "Changes from 0001_initial to 0004_add_book_isbn:",
        "  ~ Rename table author to writer",
        "  ~ Rename column book.title to name",
        "  + Add column status to book",
        "  + Add column isbn to book",
        "  ~ Alter column name on book (type VARCHAR(200) -> VARCHAR(300))",
        "  + Create index ix_book_status on book",
        "  + Create unique constraint uq_book_isbn on book",
    ]
    assert backwards[:3] == [
        "Changes from 0004_add_book_isbn to 0001_initial:",
        "  ~ Rename table writer to author",
        "  ~ Rename column book.name to title",
    ]
    assert "  - Remove column status from book" in backwards
    assert ok(history, "--diff", "0002", "0002_add_book_status") == [
        "No changes from 0002_add_book_status to 0002_add_book_status."
    ]


def test_diff_between_the_heads_of_two_branches(sqlite_project: Project) -> None:
    write_migration(sqlite_project, "0001_initial", None, _TABLE.format(name="author"))
    for side in ("left", "right"):
        write_migration(
            sqlite_project, f"0002_{side}", "0001_initial", _TABLE.format(name=side),
            labels=(side,),
        )  # fmt: skip

    assert ok(sqlite_project, "--diff", "left", "right") == [
        "Changes from 0002_left to 0002_right:",
        "  + Create table right",
        "  - Drop table left",
    ]
    assert ok(sqlite_project, "--diff") == ok(sqlite_project, "--diff", "0002_left", "0002_right")
    assert ok(sqlite_project, "--diff", "left@head", "0002_r")[0] == (
        "Changes from 0002_left to 0002_right:"
    )
    message = fails(sqlite_project)
    assert message == (
        "Error: The history has several heads (0002_left, 0002_right), so 'head' names none of "
        "them. Name one (e.g. 'manage schema 0002_left'), or compare two with 'manage schema "
        "--diff 0002_left 0002_right'."
    )


_TABLE = """
def upgrade():
    op.create_table("{name}", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("{name}")
"""


# -- blame ------------------------------------------------------------------------------------


def test_blame_a_table_follows_its_rename(history: Project) -> None:
    assert ok(history, "--blame", "writer") == [
        "Table writer at 0004_add_book_isbn:",
        "  Created by:       0001_initial (written 2026-01-10 09:00)",
        "  Last changed by:  0003_rename_author (written 2026-01-12 11:45)",
        "  Migrations, oldest first:",
        "    0001_initial (written 2026-01-10 09:00)",
        "      + Create table author",
        "    0003_rename_author (written 2026-01-12 11:45)",
        "      ~ Rename table author to writer",
    ]


def test_blame_a_column_follows_its_rename_and_stops_at_its_creation(history: Project) -> None:
    assert ok(history, "--blame", "book.name") == [
        "Column book.name at 0004_add_book_isbn:",
        "  Created by:       0001_initial (written 2026-01-10 09:00)",
        "  Last changed by:  0004_add_book_isbn (written 2026-01-13 12:15)",
        "  Migrations, oldest first:",
        "    0001_initial (written 2026-01-10 09:00)",
        "      + Create table book",
        "    0003_rename_author (written 2026-01-12 11:45)",
        "      ~ Rename column book.title to name",
        "    0004_add_book_isbn (written 2026-01-13 12:15)",
        "      ~ Alter column name on book (type VARCHAR(200) -> VARCHAR(300))",
    ]
    assert ok(history, "--blame", "book.status")[1:3] == [
        "  Created by:       0002_add_book_status (written 2026-01-11 10:30)",
        "  Last changed by:  the same migration (not changed since)",
    ]
    assert (
        ok(history, "--blame", "book.title", "0002")[0]
        == "Column book.title at 0002_add_book_status:"
    )


def test_blame_shows_the_date_of_the_commit_that_added_the_file(history: Project) -> None:
    env = {
        "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_AUTHOR_DATE": "2026-02-03T04:05:00+00:00",
        "GIT_COMMITTER_DATE": "2026-02-03T04:05:00+00:00", "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    for args in (["init", "-q"], ["add", "migrations"], ["commit", "-q", "-m", "history"]):
        subprocess.run(["git", *args], cwd=history.root, env=env, check=True)

    lines = ok(history, "--blame", "book.status")

    assert lines[1] == (
        "  Created by:       0002_add_book_status (written 2026-01-11 10:30, "
        "committed 2026-02-03 04:05 +0000)"
    )


# -- the diagram ------------------------------------------------------------------------------


def test_mermaid_diagram_at_head_and_at_an_earlier_revision(history: Project) -> None:
    assert ok(history, "--mermaid") == [
        "erDiagram",
        "    book {",
        "        INTEGER id PK",
        "        VARCHAR(300) name",
        "        INTEGER author_id FK",
        "        ENUM(book_status) status",
        "        VARCHAR(13) isbn UK",
        "    }",
        "    writer {",
        "        INTEGER id PK",
        "        VARCHAR(100) name",
        "    }",
        '    writer |o--o{ book : "author_id"',
    ]
    earlier = ok(history, "--mermaid", "0001", "--dialect", "postgresql")
    assert "    author {" in earlier and "        VARCHAR(200) title" in earlier
    assert '    author |o--o{ book : "author_id"' in earlier


# -- what the replay cannot follow --------------------------------------------------------------


def test_a_migration_the_replay_cannot_follow_is_named_in_a_warning(history: Project) -> None:
    write_migration(history, "0005_raw_sql", "0004_add_book_isbn", """
def upgrade():
    op.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY)")
    op.add_column("book", sa.Column("pages", sa.Integer()))


def downgrade():
    pass
""")  # fmt: skip
    warning = (
        "Warning: Migration 0005_raw_sql runs op.execute('CREATE TABLE audit (id INTEGER "
        "PRIMARY KEY)'), whose effect on the schema cannot be known without a database: the "
        "schema shown here may lack it."
    )

    for args in ((), ("--mermaid",), ("--diff", "0004", "head"), ("--blame", "book")):
        result = history.run("schema", *args)
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines() == [warning], args
    ddl = history.run("schema").stdout
    assert "    pages INTEGER," in ddl, "the operations after it are still replayed"
    assert "audit" not in ddl


# -- bad input: one message, and the fix ------------------------------------------------------


def test_unknown_revision(history: Project) -> None:
    assert fails(history, "0009") == (
        "Error: Unknown migration '0009'. Nearest valid ids: 0002_add_book_status, "
        "0003_rename_author, 0004_add_book_isbn. Run 'manage showmigrations' to list them."
    )
    assert fails(history, "000") == (
        "Error: Migration '000' is ambiguous: it could be 0001_initial, 0002_add_book_status, "
        "0003_rename_author, 0004_add_book_isbn. Give more of the id."
    )
    assert "Unknown migration 'nope'" in fails(history, "--diff", "0001", "nope")
    assert "Unknown migration 'nope'" in fails(history, "--blame", "book", "nope")


def test_unknown_table_and_column(history: Project) -> None:
    assert fails(history, "--blame", "bok") == (
        "Error: Table 'bok' is not in the schema at 0004_add_book_isbn (its tables: book, "
        "writer). Did you mean book?"
    )
    assert fails(history, "--blame", "book.nam") == (
        "Error: Table 'book' has no column 'nam' at 0004_add_book_isbn (did you mean name?). "
        "Its columns: id, name, author_id, status, isbn. Run 'manage schema "
        "0004_add_book_isbn' to see the schema."
    )
    assert fails(history, "--blame", "author") == (
        "Error: Table 'author' is not in the schema at 0004_add_book_isbn (its tables: book, "
        "writer). Migration 0003_rename_author renamed it to 'writer': blame that name."
    )


def test_a_dropped_table(history: Project) -> None:
    write_migration(history, "0005_drop_book", "0004_add_book_isbn", _DROP)
    assert fails(history, "--blame", "book.isbn") == (
        "Error: Table 'book' is not in the schema at 0005_drop_book (its tables: writer). "
        "Migration 0005_drop_book dropped it: give an earlier revision to blame it there."
    )
    assert ok(history, "--blame", "book.isbn", "0004")[1].startswith(
        "  Created by:       0004_add_book_isbn"
    )


_DROP = """
def upgrade():
    op.drop_table("book")


def downgrade():
    pass
"""


def test_usage_errors_exit_2(history: Project) -> None:
    assert fails(history, "--dialect", "oracle", code=2) == (
        "Error: Unknown dialect 'oracle' for --dialect. Use one of sqlite, postgresql, mysql, "
        "mariadb (or leave --dialect out for the project's own)."
    )
    assert fails(history, "--diff", "0001", code=2) == (
        "Error: --diff compares two revisions and got 1: give both, e.g. 'manage schema --diff "
        "0001 head'."
    )
    assert fails(history, "--diff", code=2).startswith(  # one head: nothing to compare it with
        "Error: --diff compares two revisions and got 0: give both"
    )
    assert fails(history, "0001", "0002", code=2) == (
        "Error: manage schema shows one revision and got 2 (0001, 0002): give one, or add "
        "--diff to compare two."
    )
    assert fails(history, "--diff", "0001", "0002", "--mermaid", code=2) == (
        "Error: --diff, --blame and --mermaid are separate views of the schema: give one of them."
    )
    assert fails(history, "--blame", " ", code=2) == (
        "Error: --blame needs a table: give TABLE or TABLE.COLUMN, e.g. book.title."
    )


def test_a_type_the_dialect_cannot_express(sqlite_project: Project) -> None:
    write_migration(sqlite_project, "0001_initial", None, """
from sqlalchemy.dialects import postgresql


def upgrade():
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("words", postgresql.TSVECTOR()),
    )


def downgrade():
    pass
""")  # fmt: skip

    assert "    words TSVECTOR," in ok(sqlite_project, "--dialect", "postgresql")
    assert fails(sqlite_project, "--dialect", "sqlite") == (
        "Error: Column event.words has type TSVECTOR, which sqlite cannot express. The "
        "migrations were written for another database: name its dialect with --dialect."
    )


# -- the DDL creates what migrate creates -------------------------------------------------------


def reflected(url: str) -> dict[str, Any]:
    """Everything reflection sees of a database's schema, but the version and history tables."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            found: dict[str, Any] = {}
            skip = {"alembic_version", "manage_migration_history"}
            for table in sorted(set(inspector.get_table_names()) - skip):
                columns = [
                    (c["name"], c["type"].compile(dialect=engine.dialect), c["nullable"],
                     _default(c["default"]), c.get("comment"))
                    for c in inspector.get_columns(table)
                ]  # fmt: skip
                found[table] = {
                    "columns": columns,
                    "pk": inspector.get_pk_constraint(table),
                    "fks": sorted(map(repr, inspector.get_foreign_keys(table))),
                    "indexes": sorted(map(repr, inspector.get_indexes(table))),
                    "uniques": sorted(map(repr, inspector.get_unique_constraints(table))),
                    "checks": sorted(map(repr, inspector.get_check_constraints(table))),
                    "comment": _comment(inspector, table),
                }
            if engine.dialect.name == "postgresql":
                found["enums"] = inspector.get_enums()  # type: ignore[attr-defined]
            return found
    finally:
        engine.dispose()


def _comment(inspector: Any, table: str) -> Any:
    try:
        return inspector.get_table_comment(table)
    except NotImplementedError:  # SQLite has no comments
        return None


def _default(text: str | None) -> str | None:
    """A column default, but the name of a SERIAL's sequence: a renamed table keeps its
    sequence's first name (author_id_seq) on a migrated PostgreSQL database, which the replay
    does not know (docs/commands/schema.md says so)."""
    return re.sub(r"nextval\('\w+_seq'", "nextval('<sequence>'", text) if text else text


def run_statements(url: str, statements: list[str]) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def example_history(project: Project) -> None:
    """The example project's four migrations (an enum made with its table, server defaults,
    ON DELETE CASCADE, a type change)."""
    examples = Path(__file__).parents[2] / "example_project" / "migrations"
    for path in sorted(examples.glob("0*.py")):
        project.write(f"migrations/{path.name}", path.read_text(encoding="utf-8"))


HISTORIES = {
    "renames": write_history,
    "example": example_history,
    "cycle": lambda project: write_migration(project, "0001_initial", None, CYCLE),
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mariadb"])
def test_the_ddl_builds_what_migrate_builds(
    make_project: Any, fresh_database: Any, tmp_path: Path, dialect: str, name: str
) -> None:
    project: Project = make_project(dialect)
    HISTORIES[name](project)
    (tmp_path / "other").mkdir()
    other = fresh_database(dialect, tmp_path / "other")
    migrated = project.run("migrate")
    assert migrated.exit_code == 0, migrated.output

    shown = project.run("schema", "--dialect", dialect)
    assert (shown.exit_code, shown.stderr) == (0, ""), shown.output
    run_statements(other, [s for s in shown.stdout.split(";\n") if s.strip()])

    assert reflected(other) == reflected(project.database_url)
    assert reflected(other), "the history creates tables"
    assert make_url(other).database != make_url(project.database_url).database


def test_tables_the_bootstrap_made(sqlite_project: Project) -> None:
    from tests.cli.test_bootstrap import legacy_project

    legacy_project(sqlite_project, setting=True)

    ddl = ok(sqlite_project)
    assert ddl[0] == "CREATE TABLE users ("
    assert "CREATE INDEX ix_users_name ON users (name);" in ddl
    assert ok(sqlite_project, "--blame", "users") == [
        "Table users at 0001_email_and_posts:",
        "  Created by:       no migration of the history (the bootstrap made it)",
        "  Last changed by:  0001_email_and_posts (no date: no Create Date line, not in git)",
        "  Migrations, oldest first:",
        "    0001_email_and_posts (no date: no Create Date line, not in git)",
        "      + Add column email to users",
    ]
    assert ok(sqlite_project, "--blame", "users.name") == [
        "Column users.name at 0001_email_and_posts:",
        "  Created by:       no migration of the history (the bootstrap made it)",
    ]
