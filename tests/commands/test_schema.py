"""The schema command functions return frozen dataclasses: the DDL statements, the operations of a
diff, the blame entries with their dates, the Mermaid text; and raise ManageErrors."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from manage import commands
from manage.commands import (
    BlameEntry,
    Operation,
    SchemaBlame,
    SchemaDiagram,
    SchemaDiff,
    SchemaSql,
)
from manage.core.settings import Settings, load_settings
from manage.errors import RevisionNotFoundError, SchemaLookupError, UsageError
from tests.cli.schema_history import write_history, write_migration
from tests.conftest import Project


@pytest.fixture
def settings(sqlite_project: Project) -> Settings:
    write_history(sqlite_project)
    return load_settings(None, cwd=sqlite_project.root)


def test_schema_sql(settings: Settings) -> None:
    result = commands.schema_sql(settings, "0001")

    assert isinstance(result, SchemaSql)
    assert (result.revision, result.dialect, result.warnings) == ("0001_initial", "sqlite", ())
    assert [s.split(" (")[0] for s in result.statements] == [
        "CREATE TABLE author",
        "CREATE TABLE book",
        "CREATE INDEX ix_book_title ON book",
    ]
    assert result.sql == "".join(f"{s};\n\n" for s in result.statements)[:-1]
    assert not result.sql.endswith("\n\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.revision = "x"  # type: ignore[misc]


def test_schema_diff(settings: Settings) -> None:
    result = commands.schema_diff(settings, "0002", "0003", dialect="postgresql")

    assert isinstance(result, SchemaDiff)
    assert (result.old, result.new, result.dialect) == (
        "0002_add_book_status",
        "0003_rename_author",
        "postgresql",
    )
    assert all(isinstance(op, Operation) for op in result.operations)
    assert [(op.symbol, op.description) for op in result.operations] == [
        ("~", "Rename table author to writer"),
        ("~", "Rename column book.title to name"),
    ]


def test_schema_blame(settings: Settings) -> None:
    result = commands.schema_blame(settings, "book.name", "0003")

    assert isinstance(result, SchemaBlame)
    assert (result.revision, result.table, result.column) == ("0003_rename_author", "book", "name")
    assert all(isinstance(entry, BlameEntry) for entry in result.entries)
    assert [e.revision for e in result.entries] == ["0001_initial", "0003_rename_author"]
    assert result.created_by is result.entries[0] and result.created_by.created
    assert result.last_changed_by is result.entries[-1]
    assert result.entries[0].written == dt.datetime(2026, 1, 10, 9, 0)
    assert result.entries[0].committed is None  # not a git work tree
    assert result.entries[0].path == settings.migrations_dir / "0001_initial.py"


def test_schema_diagram(settings: Settings) -> None:
    result = commands.schema_diagram(settings, "zero")

    assert isinstance(result, SchemaDiagram)
    assert (result.revision, result.mermaid) == ("zero", "erDiagram\n")


def test_schema_dispatches_to_each_view(settings: Settings) -> None:
    assert isinstance(commands.schema(settings), SchemaSql)
    assert isinstance(commands.schema(settings, "0001", "head", diff=True), SchemaDiff)
    assert isinstance(commands.schema(settings, blame="writer"), SchemaBlame)
    assert isinstance(commands.schema(settings, "0002", mermaid=True), SchemaDiagram)


def test_schema_errors(settings: Settings) -> None:
    with pytest.raises(UsageError):
        commands.schema(settings, "0001", diff=True)
    with pytest.raises(UsageError):
        commands.schema_sql(settings, dialect="mssql")
    with pytest.raises(RevisionNotFoundError):
        commands.schema_diagram(settings, "0042")
    with pytest.raises(SchemaLookupError):
        commands.schema_blame(settings, "book.pages")


def test_a_migration_whose_code_needs_rows_is_a_warning(
    sqlite_project: Project, settings: Settings
) -> None:
    write_migration(sqlite_project, "0005_needs_rows", "0004_add_book_isbn", """
def upgrade():
    op.add_column("book", sa.Column("pages", sa.Integer()))
    raise RuntimeError("needs the rows of a real database")


def downgrade():
    pass
""")  # fmt: skip

    result = commands.schema_sql(settings)

    assert result.warnings == (
        "Migration 0005_needs_rows cannot be replayed without a database: its upgrade() raised "
        "RuntimeError: needs the rows of a real database: the schema shown here may lack it.",
    )
    assert "    pages INTEGER," in result.sql.splitlines(), "what it did before failing is kept"
