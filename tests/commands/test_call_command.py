"""The Python API: ``manage.call_command`` runs every built-in command of ``manage.registry`` on a
real SQLite project and returns its data; the database holds what the command did."""

from __future__ import annotations

from pathlib import Path

import pytest

import manage
from manage.commands import (
    CheckResult,
    DbShellResult,
    InitResult,
    InspectDbResult,
    LintResult,
    MakeMigrationsResult,
    MigrateResult,
    SchemaDiff,
    SchemaSql,
    ShowMigrationsResult,
    SqlMigrateResult,
    SquashResult,
)
from manage.registry import BUILTINS
from tests.conftest import Project, forget_modules

PRICE = "    title: Mapped[str] = mapped_column(String(200))\n"


def _add_price(project: Project) -> None:
    project.edit("shop/models.py", PRICE, PRICE + "    price: Mapped[int | None]\n")
    forget_modules(project.root)  # as the next manage process would import them


def _rows(project: Project, sql: str) -> list[tuple[object, ...]]:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def test_every_built_in_command_has_a_test_here() -> None:
    tested = {
        name.removeprefix("test_call_command_runs_")
        for name in globals()
        if name.startswith("test_call_command_runs_")
    }
    assert tested == set(BUILTINS)


def test_call_command_runs_makemigrations(sqlite_project: Project) -> None:
    written = manage.call_command("makemigrations")
    checked = manage.call_command("makemigrations", check=True)

    assert isinstance(written, MakeMigrationsResult) and written.written
    assert written.path == sqlite_project.root / "migrations" / "0001_initial.py"
    operations = [str(op) for op in written.operations]
    assert operations == ["+ Create table author", "+ Create table book"]
    assert isinstance(checked, MakeMigrationsResult) and checked.operations == ()
    assert sqlite_project.migrations() == ["0001_initial.py"]
    assert not sqlite_project.database_exists()  # makemigrations never opens the database


def test_call_command_runs_migrate(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")

    applied = manage.call_command("migrate")
    unapplied = manage.call_command("migrate", "zero")

    assert isinstance(applied, MigrateResult) and applied.executed
    assert [(s.revision, s.direction) for s in applied.steps] == [("0001_initial", "apply")]
    assert [(s.revision, s.direction) for s in unapplied.steps] == [("0001_initial", "unapply")]
    assert sqlite_project.tables() == {"alembic_version"}
    assert sqlite_project.version() == set()


def test_call_command_runs_showmigrations(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")
    manage.call_command("migrate")

    shown = manage.call_command("showmigrations")

    assert isinstance(shown, ShowMigrationsResult)
    assert [(m.id, m.applied, m.head) for m in shown.migrations] == [("0001_initial", True, True)]
    assert sqlite_project.version() == {"0001_initial"}


def test_call_command_runs_sqlmigrate(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")

    forwards = manage.call_command("sqlmigrate", "0001")
    backwards = manage.call_command("sqlmigrate", "0001_initial", backwards=True)

    assert isinstance(forwards, SqlMigrateResult) and forwards.revision == "0001_initial"
    assert "CREATE TABLE author" in forwards.sql and "CREATE TABLE book" in forwards.sql
    assert "DROP TABLE book" in backwards.sql and backwards.backwards
    assert not sqlite_project.database_exists()  # offline: no connection made
    with pytest.raises(manage.ManageError, match="Invalid arguments for command 'sqlmigrate'"):
        manage.call_command("sqlmigrate")


def test_call_command_runs_schema(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")
    _add_price(sqlite_project)
    manage.call_command("makemigrations")

    ddl = manage.call_command("schema", "0001", dialect="postgresql")
    diff = manage.call_command("schema", "0001", "head", diff=True)

    assert isinstance(ddl, SchemaSql) and ddl.revision == "0001_initial"
    assert ddl.statements[0].startswith("CREATE TABLE author (\n    id SERIAL NOT NULL,")
    assert isinstance(diff, SchemaDiff) and diff.new == "0002_add_book_price"
    assert [str(op) for op in diff.operations] == ["+ Add column price to book"]
    assert not sqlite_project.database_exists()  # replayed in memory: no connection made
    with pytest.raises(manage.ManageError, match="--diff compares two revisions and got 1"):
        manage.call_command("schema", "0001", diff=True)


def test_call_command_runs_lint(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")

    result = manage.call_command("lint", ["0001"])

    assert isinstance(result, LintResult) and result.dialect == "sqlite"
    assert [m.revision for m in result.migrations] == ["0001_initial"]
    assert result.findings == ()  # no rule applies on SQLite
    with pytest.raises(manage.ManageError, match="Unknown migration '0009'"):
        manage.call_command("lint", ["0009"])


def test_call_command_runs_squashmigrations(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")
    _add_price(sqlite_project)
    manage.call_command("makemigrations")

    squashed = manage.call_command("squashmigrations", "0002")
    migrated = manage.call_command("migrate")

    assert isinstance(squashed, SquashResult)
    assert squashed.replaced == ("0001_initial", "0002_add_book_price")
    assert squashed.path == sqlite_project.root / "migrations" / "0002_add_book_price.py"
    assert sqlite_project.migrations() == ["0002_add_book_price.py"]
    assert [s.revision for s in migrated.steps] == ["0002_add_book_price"]
    assert sqlite_project.columns("book") == ["id", "title", "price", "author_id"]
    assert sqlite_project.version() == {"0002_add_book_price"}


def test_call_command_runs_check(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")

    before = manage.call_command("check", database=True)
    manage.call_command("migrate")
    after = manage.call_command("check", database=True)

    assert isinstance(before, CheckResult) and not before.ok
    assert [item.name for item in before.failed] == ["database at head"]
    assert isinstance(after, CheckResult) and after.ok


def test_call_command_runs_shell(
    sqlite_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    manage.call_command("makemigrations")
    manage.call_command("migrate")

    returned = manage.call_command(
        "shell",
        command=(
            "with session.begin():\n"
            "    session.add(Author(name='Ursula'))\n"
            "print(session.query(Author).count())"
        ),
    )

    assert returned is None
    assert capsys.readouterr().out == "1\n"
    assert _rows(sqlite_project, "SELECT name FROM author") == [("Ursula",)]


def test_call_command_runs_dbshell(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")
    manage.call_command("migrate")

    result = manage.call_command("dbshell", ["INSERT INTO author (name) VALUES ('Le Guin')"])

    assert isinstance(result, DbShellResult) and result.exit_code == 0
    assert Path(result.program).name == "sqlite3"
    assert _rows(sqlite_project, "SELECT name FROM author") == [("Le Guin",)]


def test_call_command_runs_init(tmp_path: Path) -> None:
    project = Project(tmp_path / "fresh", "", "sqlite")
    project.write("app/__init__.py", "")
    project.write(
        "app/db.py",
        "from sqlalchemy.orm import DeclarativeBase\n\nclass Base(DeclarativeBase):\n    pass\n",
    )

    result = manage.call_command("init", project.root)

    assert isinstance(result, InitResult) and result.models == "app.db:Base"
    assert result.created_pyproject and result.created_migrations
    assert (project.root / "migrations").is_dir()
    table = (project.root / "pyproject.toml").read_text()
    assert '[tool.manage]\nmodels = "app.db:Base"\n' in table


def test_call_command_runs_inspectdb(sqlite_project: Project) -> None:
    manage.call_command("makemigrations")
    manage.call_command("migrate")

    result = manage.call_command("inspectdb", ["author"])

    assert isinstance(result, InspectDbResult) and result.tables == ("author",)
    assert "class Author(Base):" in result.code and result.path is None
    compile(result.code, "<inspectdb>", "exec")  # valid Python
    assert sqlite_project.tables() == {"alembic_version", "author", "book"}  # nothing written
