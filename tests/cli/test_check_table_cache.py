"""makemigrations --check remembers which tables match the history: an edit that changes no table
is answered without Alembic, and every schema change is still seen, as a check without any cache
sees it (on each dialect, with the database server never contacted)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from manage.cli import app
from tests.cli.test_check_cache import aged, imported
from tests.conftest import Project, forget_modules

EXAMPLE = Path(__file__).parents[2] / "example_project"

# Servers that are never contacted: the check needs no database.
URLS = {
    "sqlite": None,
    "postgresql": "postgresql+psycopg://app:secret@127.0.0.1:9/bookshop",
    "mariadb": "mysql+pymysql://app:secret@127.0.0.1:9/bookshop",
}

MODELS = "bookshop/models.py"

# Each edit is a change Alembic's comparison reports on at least one dialect.
EDITS = {
    "add a column": (
        "    returned_at: Mapped[dt.datetime | None]",
        "    note: Mapped[str | None] = mapped_column(String(100))\n"
        "    returned_at: Mapped[dt.datetime | None]",
    ),
    "widen a string": ("mapped_column(String(200))", "mapped_column(String(220))"),
    "allow NULL": ("    borrower: Mapped[str]", "    borrower: Mapped[str | None]"),
    "drop a server default": (
        "DateTime(timezone=True), server_default=func.now()\n    )\n\n    author",
        "DateTime(timezone=True)\n    )\n\n    author",
    ),
    "drop an index": ("String(300), index=True)", "String(300))"),
    "add a unique constraint": (
        "name: Mapped[str] = mapped_column(String(250))",
        "name: Mapped[str] = mapped_column(String(250), unique=True)",
    ),
    "change a foreign key's ON DELETE": ('ondelete="CASCADE"', 'ondelete="SET NULL"'),
    "add a table comment": (
        '    __tablename__ = "author"\n',
        '    __tablename__ = "author"\n    __table_args__ = {"comment": "People who write"}\n',
    ),
    "drop a table": (
        '    __tablename__ = "loan"\n',
        '    __abstract__ = True\n    __tablename__ = "loan"\n',
    ),
}


# Changes a CREATE TABLE statement shows that a table's own attributes do not: which columns a
# named constraint or index covers. The fingerprint writes them down without compiling the DDL.
COVERED_COLUMN_EDITS = {
    "move a named unique constraint to another column": (
        "    isbn: Mapped[str | None] = mapped_column(String(13), unique=True)\n",
        "    isbn: Mapped[str | None] = mapped_column(String(13))\n"
        '    __table_args__ = (UniqueConstraint("title", name="uq_book_isbn"),)\n',
    ),
    "move a named index to another column": (
        "    title: Mapped[str] = mapped_column(String(300), index=True)\n",
        "    title: Mapped[str] = mapped_column(String(300))\n"
        '    __table_args__ = (Index("ix_book_title", "isbn"),)\n',
    ),
}
IMPORTS = (
    "from sqlalchemy import DateTime, Enum, ForeignKey, MetaData, String, func\n",
    "from sqlalchemy import DateTime, Enum, ForeignKey, Index, MetaData, String, UniqueConstraint\n"
    "from sqlalchemy import func\n",
)


@pytest.fixture(params=sorted(URLS))
def bookshop(request: pytest.FixtureRequest, tmp_path: Path) -> Project:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    url = URLS[request.param]
    if url is not None:
        (root / ".env").write_text(f"DATABASE_URL={url}\n")
    return Project(root, url or f"sqlite:///{root}/db.sqlite3", request.param)


def check(project: Project) -> tuple[int, str, bool]:
    """(exit code, stdout, whether Alembic was imported) of the commit hook's command, as a new
    process, with the remembered answers forgotten (this file tests the table cache)."""
    cache = Path(project.root.parent / "cache")
    shutil.rmtree(cache / "sqlalchemy-manage" / "answers", ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "manage", "makemigrations", "--check"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environ(), "XDG_CACHE_HOME": str(cache)},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, timeless(result.stdout), imported(result.stderr, "alembic")


def check_importing(project: Project, package: str) -> tuple[int, str, bool]:
    """:func:`check`, telling whether ``package`` was imported instead of Alembic."""
    cache = Path(project.root.parent / "cache")
    shutil.rmtree(cache / "sqlalchemy-manage" / "answers", ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "manage", "makemigrations", "--check"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environ(), "XDG_CACHE_HOME": str(cache)},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, timeless(result.stdout), imported(result.stderr, package)


def check_without_caches(project: Project, tmp_path: Path) -> tuple[int, str]:
    """The same check in a cache folder of its own, so nothing is remembered."""
    forget_modules(project.root)
    cache = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}"
    result = CliRunner().invoke(
        app,
        ["--project", str(project.root), "makemigrations", "--check"],
        env={"XDG_CACHE_HOME": str(cache)},
        catch_exceptions=False,
    )
    return result.exit_code, timeless(result.stdout)


def timeless(output: str) -> str:
    """The output with the minute in a proposed ``auto_<timestamp>`` name blanked: two runs may
    fall on either side of a minute."""
    return re.sub(r"auto_\d{8}_\d{4}", "auto_<minute>", output)


def _environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}


def test_an_edit_that_changes_no_table_needs_no_alembic(bookshop: Project) -> None:
    first = check(bookshop)
    path = bookshop.root / MODELS
    aged(path, path.read_text() + "\n\ndef helper() -> int:\n    return 1\n")

    second = check(bookshop)

    assert first == (0, "No changes detected\n", True)
    assert second == (0, "No changes detected\n", False)


def test_every_schema_change_is_seen_as_without_caches(bookshop: Project, tmp_path: Path) -> None:
    path = bookshop.root / MODELS
    original = path.read_text()
    assert check(bookshop)[0] == 0  # every table now known to match
    seen = 0
    for edit, (old, new) in EDITS.items():
        assert old in original, edit
        aged(path, original.replace(old, new, 1))

        warm = check(bookshop)
        cold = check_without_caches(bookshop, tmp_path)

        assert warm[:2] == cold, edit
        seen += cold[0] == 1
    # Back to the models the history builds: every table's pair is known, no Alembic needed.
    aged(path, original)
    assert check(bookshop) == (0, "No changes detected\n", False)
    assert seen >= len(EDITS) - 2  # a comment or an index may be invisible to a dialect


def test_unnamed_constraints_are_fingerprinted_too(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(Path(__file__).parents[1] / "projects/shop", root)  # no naming convention
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    assert CliRunner().invoke(app, ["-C", str(root), "makemigrations"]).exit_code == 0
    forget_modules(root)
    assert check(project) == (0, "No changes detected\n", True)
    path = root / "shop/models.py"
    aged(path, path.read_text() + "\n\ndef helper() -> int:\n    return 1\n")

    assert check(project) == (0, "No changes detected\n", False)


def test_a_change_of_the_columns_a_named_constraint_covers_is_seen(
    bookshop: Project, tmp_path: Path
) -> None:
    path = bookshop.root / MODELS
    original = path.read_text()
    assert IMPORTS[0] in original
    original = original.replace(*IMPORTS)
    aged(path, original)
    assert check(bookshop)[0] == 0  # every table now known to match
    for edit, (old, new) in COVERED_COLUMN_EDITS.items():
        assert old in original, edit
        aged(path, original.replace(old, new, 1))

        warm = check(bookshop)
        cold = check_without_caches(bookshop, tmp_path)

        assert warm[:2] == cold, edit
        assert cold[0] == 1, edit


def test_pending_changes_are_reported_without_loading_the_cli(bookshop: Project) -> None:
    assert check(bookshop)[0] == 0
    path = bookshop.root / MODELS
    old, new = EDITS["add a column"]
    aged(path, path.read_text().replace(old, new, 1))

    result = check_importing(bookshop, "typer")

    assert result == (
        1,
        "Model changes without a migration:\n"
        "    + Add column note to loan\n"
        "Run 'manage makemigrations' to write migrations/0005_add_loan_note.py.\n",
        False,
    )


def test_a_migration_edit_that_keeps_its_size_and_mtime_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    migration = root / "migrations/0004_alter_author_name.py"
    text = migration.read_text()
    aged(migration, text)
    assert check(project) == (0, "No changes detected\n", True)
    assert check(project) == (0, "No changes detected\n", False)  # the history known by stamps
    before = migration.stat()

    # The same number of bytes, and the old modification time put back (as cp -p or an
    # editor keeping times would): only the change time and the bytes differ.
    migration.write_text(text.replace("String(length=250)", "String(length=260)"))
    os.utime(migration, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert migration.stat().st_size == before.st_size

    result = check(project)

    assert result[0] == 1
    assert "~ Alter column name on author (type VARCHAR(260) -> VARCHAR(250))" in result[1]


def test_a_model_change_loads_only_the_tables_compared(tmp_path: Path) -> None:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    log = root / "replayed.log"
    first = next((root / "migrations").glob("0001_*.py"))
    first.write_text(
        first.read_text().replace(
            "def upgrade() -> None:\n",
            "def upgrade() -> None:\n"
            f"    with open({str(log)!r}, 'a') as log:\n"
            "        log.write('0001\\n')\n",
        )
    )
    assert check(project)[0] == 0
    # Without the whole replayed state, the tables saved apart still answer.
    for whole in (tmp_path / "cache/sqlalchemy-manage/replay").glob("*.pickle"):
        whole.unlink()
    path = root / MODELS
    original = path.read_text()
    one = original.replace(*EDITS["add a column"], 1)
    two = one.replace(*EDITS["widen a string"], 1).replace(*EDITS["add a unique constraint"], 1)

    for edited in (one, two):
        aged(path, edited)
        replays = log.read_text().count("0001")
        warm = check(project)
        assert log.read_text().count("0001") == replays  # nothing was replayed again
        assert warm[:2] == check_without_caches(project, tmp_path)
    assert warm[1].count("\n    ") == 3  # two changes on loan, one on author


def test_a_changed_include_object_hook_is_not_answered_from_the_cache(
    tmp_path: Path,
) -> None:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    hook = root / "bookshop/hooks.py"
    aged(hook, "def include(obj, name, type_, reflected, compare_to):\n    return True\n")
    pyproject = root / "pyproject.toml"
    aged(
        pyproject,
        pyproject.read_text().replace(
            "[tool.manage]\n", '[tool.manage]\ninclude_object = "bookshop.hooks:include"\n', 1
        ),
    )
    assert check(project)[:2] == (0, "No changes detected\n")
    models = root / MODELS
    old, new = EDITS["add a column"]
    aged(models, models.read_text().replace(old, new, 1))
    aged(
        hook,
        "def include(obj, name, type_, reflected, compare_to):\n"
        "    return getattr(obj, 'name', name) != 'note'\n",
    )
    assert check(project)[:2] == (0, "No changes detected\n")

    aged(hook, "def include(obj, name, type_, reflected, compare_to):\n    return True\n")

    assert check(project)[:2] == (
        1,
        "Model changes without a migration:\n"
        "    + Add column note to loan\n"
        "Run 'manage makemigrations' to write migrations/0005_add_loan_note.py.\n",
    )


def test_a_grown_history_replays_only_its_new_migrations(tmp_path: Path) -> None:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    log = root / "replayed.log"
    first = next((root / "migrations").glob("0001_*.py"))
    first.write_text(
        first.read_text().replace(
            "def upgrade() -> None:\n",
            "def upgrade() -> None:\n"
            f"    with open({str(log)!r}, 'a') as log:\n"
            "        log.write('0001\\n')\n",
        )
    )
    assert check(project) == (0, "No changes detected\n", True)
    models = root / MODELS
    old, new = EDITS["add a column"]
    models.write_text(models.read_text().replace(old, new, 1))
    forget_modules(root)
    assert CliRunner().invoke(app, ["-C", str(root), "makemigrations"]).exit_code == 0
    replays = log.read_text().count("0001")

    assert check(project) == (0, "No changes detected\n", True)

    assert log.read_text().count("0001") == replays  # 0001..0004 came from the cache


def test_tables_sharing_type_reprs_get_the_fingerprints_of_tables_alone() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    from manage.core.insync import fingerprints, table_fingerprint

    metadata = sa.MetaData()
    types = [sa.Numeric(10, 2), sa.Numeric(10.0, 2), sa.String(40), sa.String(41), sa.Integer()]
    types += [sa.DateTime(timezone=True), sa.DateTime(), sa.Enum("a", "b", name="ab")]
    for number, type_ in enumerate(types):
        sa.Table(f"t{number}", metadata, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table(f"u{number}", metadata, sa.Column("value", type_))
    dialect = SQLiteDialect()

    shared = fingerprints(metadata.tables.values(), dialect)

    alone = {table.name: table_fingerprint(table, dialect) for table in metadata.tables.values()}
    assert shared == alone
    shown = {str(alone[f"u{n}"]).replace(f"'u{n}'", "") for n in range(len(types))}
    assert len(shown) == len(types)  # each type fingerprinted as itself


SERVER_DEFAULT_MIGRATION = '''"""Borrower defaults to lower('ABC')."""

import sqlalchemy as sa
from alembic import op

revision = "0005_borrower_default"
down_revision = "0004_alter_author_name"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan") as batch_op:
        batch_op.alter_column(
            "borrower",
            existing_type=sa.String(200),
            existing_nullable=False,
            server_default=sa.text("lower('ABC')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("loan") as batch_op:
        batch_op.alter_column(
            "borrower", existing_type=sa.String(200), existing_nullable=False, server_default=None
        )
'''


def test_a_literal_changed_in_a_server_default_is_seen(bookshop: Project, tmp_path: Path) -> None:
    """A server default's literals are written out in the fingerprint, as Alembic renders them for
    comparison: compiled with bound parameters, lower('ABC') and lower('XYZ') looked the same."""
    bookshop.write("migrations/0005_borrower_default.py", SERVER_DEFAULT_MIGRATION)
    path = bookshop.root / MODELS
    old = "    borrower: Mapped[str] = mapped_column(String(200))\n"
    with_default = path.read_text().replace(
        old,
        "    borrower: Mapped[str] = mapped_column(\n"
        '        String(200), server_default=func.lower("ABC")\n'
        "    )\n",
    )
    aged(path, with_default)
    assert check(bookshop)[:2] == (0, "No changes detected\n")  # the pair is now known

    aged(path, with_default.replace('"ABC"', '"XYZ"'))
    warm = check(bookshop)
    cold = check_without_caches(bookshop, tmp_path)

    assert warm[:2] == cold
    assert cold[0] == 1
    assert "    ~ Alter column borrower on loan (server default)\n" in cold[1]


def test_models_that_fail_to_import_are_reported_once(tmp_path: Path) -> None:
    """The launcher reports a failing models import itself: handing over to the CLI imported the
    models a second time, and with the Base in another module that import failed differently
    (the first attempt's tables were already on its MetaData)."""
    root = tmp_path / "split"
    project = Project(root, f"sqlite:///{root}/db.sqlite3", "sqlite")
    project.write("pyproject.toml", '[tool.manage]\nmodels = "app.models:Base"\n')
    project.write("app/__init__.py", "")
    project.write(
        "app/base.py",
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
    )
    models = (
        "from sqlalchemy.orm import Mapped, mapped_column\n\nfrom app.base import Base\n\n\n"
        "class Shelf(Base):\n"
        '    __tablename__ = "shelf"\n\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    )
    aged(root / "app/models.py", models)
    assert project.subprocess("makemigrations").returncode == 0
    assert check(project)[:2] == (0, "No changes detected\n")  # the caches are warm
    aged(root / "app/models.py", models + '\nraise RuntimeError("boom")\n')

    result = subprocess.run(
        [sys.executable, "-m", "manage", "makemigrations", "--check"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_environ(), "XDG_CACHE_HOME": str(root.parent / "cache")},
    )

    assert result.returncode == 3
    assert result.stderr.startswith(
        "Error: Importing models 'app.models' failed: RuntimeError: boom ("
    ), result.stderr
