"""A fast-forward (and ``manage schema``) needs the models only for their naming convention, which
the console script remembers keyed on everything importing the models read (issue 15): the next
fresh ``migrate`` does not import them, and any change to what they read is seen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import Project

MODELS = '''
"""Models whose naming convention comes from {source}."""
import sys

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

{prelude}
print("models imported", file=sys.stderr)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={{"uq": PREFIX + "_%(table_name)s_%(column_0_name)s"}})


class Book(Base):
    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
'''

UNNAMED_UNIQUE = '''
"""A unique constraint left unnamed: the models' naming convention names it."""
from alembic import op

revision = "0002_unique_title"
down_revision = "0001_initial"


def upgrade() -> None:
    with op.batch_alter_table("book") as batch_op:
        batch_op.create_unique_constraint(None, ["title"])


def downgrade() -> None:
    pass
'''


def _project(project: Project, source: str, prelude: str) -> None:
    project.write("shop/models.py", MODELS.format(source=source, prelude=prelude))
    made = project.subprocess("makemigrations", "--name", "initial")
    assert made.returncode == 0, made.stderr
    project.write("migrations/0002_unique_title.py", UNNAMED_UNIQUE)
    _settle()


def _settle() -> None:
    """Files changed within a clock tick of a process's start are not remembered by it."""
    time.sleep(0.2)


def _fresh_migrate(project: Project, env: dict[str, str] | None = None) -> tuple[bool, str]:
    """Migrate a fresh SQLite file: whether the models were imported, and the unique
    constraint's name."""
    (project.root / "db.sqlite3").unlink(missing_ok=True)
    result = project.subprocess("migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert "Fast-forwarded 2 migrations to 0002_unique_title in one pass." in result.stdout
    engine = sa.create_engine(f"sqlite:///{project.root / 'db.sqlite3'}")
    try:
        (constraint,) = sa.inspect(engine).get_unique_constraints("book")
    finally:
        engine.dispose()
    return "models imported" in result.stderr, str(constraint["name"])


def _replace_keeping_times(path: Path, old: str, new: str) -> None:
    """Rewrite ``path`` as ``cp -p`` or rsync would: same size, the old modification time."""
    assert len(old) == len(new)
    stat = path.stat()
    path.write_text(path.read_text().replace(old, new), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def test_a_fresh_migrate_remembers_the_convention_and_sees_a_model_edit(
    sqlite_project: Project,
) -> None:
    _project(sqlite_project, "the models", 'PREFIX = "uq"')

    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project) == (False, "uq_book_title")  # remembered: no import
    schema = sqlite_project.subprocess("schema")
    assert schema.returncode == 0, schema.stderr
    assert "CONSTRAINT uq_book_title UNIQUE (title)" in schema.stdout
    assert "models imported" not in schema.stderr

    _replace_keeping_times(sqlite_project.root / "shop/models.py", 'PREFIX = "uq"', 'PREFIX = "uk"')
    _settle()
    assert _fresh_migrate(sqlite_project) == (True, "uk_book_title")
    assert _fresh_migrate(sqlite_project) == (False, "uk_book_title")


def test_a_module_the_models_import_is_part_of_the_key(sqlite_project: Project) -> None:
    sqlite_project.write("shop/naming.py", 'PREFIX = "uq"\n')
    _project(sqlite_project, "shop/naming.py", "from shop.naming import PREFIX")
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project) == (False, "uq_book_title")

    _replace_keeping_times(sqlite_project.root / "shop/naming.py", '"uq"', '"ux"')
    _settle()
    assert _fresh_migrate(sqlite_project) == (True, "ux_book_title")


def test_a_data_file_the_models_read_is_part_of_the_key(sqlite_project: Project) -> None:
    sqlite_project.write("naming.txt", "uq\n")
    prelude = "from pathlib import Path\nPREFIX = Path('naming.txt').read_text().strip()"
    _project(sqlite_project, "a data file", prelude)
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project) == (False, "uq_book_title")

    _replace_keeping_times(sqlite_project.root / "naming.txt", "uq", "uv")
    _settle()
    assert _fresh_migrate(sqlite_project) == (True, "uv_book_title")


def test_an_environment_variable_the_models_read_is_part_of_the_key(
    sqlite_project: Project,
) -> None:
    _project(
        sqlite_project, "an environment variable", 'import os\nPREFIX = os.environ.get("UQ", "uq")'
    )
    assert _fresh_migrate(sqlite_project, {"UQ": "uq"}) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project, {"UQ": "uq"}) == (False, "uq_book_title")
    assert _fresh_migrate(sqlite_project, {"UQ": "uw"}) == (True, "uw_book_title")


def test_models_that_read_the_whole_environment_are_imported_every_time(
    sqlite_project: Project,
) -> None:
    prelude = 'import os\nPREFIX = dict(os.environ).get("UQ", "uq")'
    _project(sqlite_project, "a copy of the environment", prelude)
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project, {"UQ": "ut"}) == (True, "ut_book_title")


def test_a_convention_that_is_not_plain_text_is_not_remembered(sqlite_project: Project) -> None:
    prelude = 'PREFIX = "uq"\nfrom sqlalchemy import UniqueConstraint'
    _project(sqlite_project, "a class key", prelude)
    models = sqlite_project.root / "shop/models.py"
    models.write_text(
        models.read_text().replace(
            'naming_convention={"uq": PREFIX + "_%(table_name)s_%(column_0_name)s"}',
            'naming_convention={UniqueConstraint: PREFIX + "_%(table_name)s_%(column_0_name)s"}',
        )
    )
    _settle()
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")


def test_a_module_added_where_the_models_look_is_seen(sqlite_project: Project) -> None:
    prelude = "try:\n    from shop.extra import PREFIX\nexcept ImportError:\n    PREFIX = 'uq'"
    _project(sqlite_project, "a module that may be there", prelude)
    assert _fresh_migrate(sqlite_project) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project) == (False, "uq_book_title")

    sqlite_project.write("shop/extra.py", 'PREFIX = "us"\n')
    _settle()
    assert _fresh_migrate(sqlite_project) == (True, "us_book_title")


def test_sqlite_and_a_server_by_turns_keep_their_conventions(make_project: object) -> None:
    """One remembered convention per database: migrating a fresh SQLite file and a fresh
    PostgreSQL database by turns (the SQLite file coming and going) imports the models once
    for each."""
    project: Project = make_project("postgresql")  # type: ignore[operator]
    _project(project, "the models", 'PREFIX = "uq"')
    sqlite = {"DATABASE_URL": f"sqlite:///{project.root / 'db.sqlite3'}"}
    server_url = project.database_url

    def fresh_server() -> bool:
        engine = sa.create_engine(server_url)
        with engine.begin() as connection:
            for table in ("book", "alembic_version", "manage_migration_history"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()
        result = project.subprocess("migrate")
        assert result.returncode == 0, result.stderr
        assert "Fast-forwarded 2 migrations" in result.stdout, result.stdout + result.stderr
        return "models imported" in result.stderr

    assert _fresh_migrate(project, sqlite) == (True, "uq_book_title")
    assert fresh_server() is True
    assert _fresh_migrate(project, sqlite) == (False, "uq_book_title")
    assert fresh_server() is False
    assert _fresh_migrate(project, sqlite) == (False, "uq_book_title")


def test_each_fresh_server_database_finds_the_convention_remembered(
    make_project: object, fresh_database: object
) -> None:
    """A test suite migrates a new database (a new DATABASE_URL) each time: manage's own read
    of the URL is no input of the models' import, so the convention stays remembered."""
    project: Project = make_project("postgresql")  # type: ignore[operator]
    _project(project, "the models", 'PREFIX = "uq"')
    imported = []
    for _ in range(3):
        url = fresh_database("postgresql", project.root)  # type: ignore[operator]
        result = project.subprocess("migrate", env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "Fast-forwarded 2 migrations" in result.stdout
        imported.append("models imported" in result.stderr)
        engine = sa.create_engine(url)
        (constraint,) = sa.inspect(engine).get_unique_constraints("book")
        engine.dispose()
        assert constraint["name"] == "uq_book_title"
    assert imported == [True, False, False]


def test_a_variable_the_models_read_from_dotenv_is_remembered_and_seen(
    sqlite_project: Project,
) -> None:
    sqlite_project.write(".env", "UQ=ux\n")
    _project(
        sqlite_project, "a variable from .env", 'import os\nPREFIX = os.environ.get("UQ", "uq")'
    )
    assert _fresh_migrate(sqlite_project) == (True, "ux_book_title")
    assert _fresh_migrate(sqlite_project) == (False, "ux_book_title")
    assert _fresh_migrate(sqlite_project, {"UQ": "uy"}) == (True, "uy_book_title")  # it wins
    _replace_keeping_times(sqlite_project.root / ".env", "UQ=ux", "UQ=uz")
    _settle()
    assert _fresh_migrate(sqlite_project) == (True, "uz_book_title")


def test_a_package_outside_the_project_edited_in_place_is_seen(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """A sibling package (an editable install, a PYTHONPATH entry) that an import finds
    compiled is opened only as its compiled file: its source still keys the convention."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "sharedbase.py").write_text('PREFIX = "uq"\n')
    compiled = subprocess.run([sys.executable, "-m", "compileall", "-q", str(shared)])
    assert compiled.returncode == 0
    env = {"PYTHONPATH": str(shared)}
    sqlite_project.write(
        "shop/models.py",
        MODELS.format(
            source="a package outside the project", prelude="from sharedbase import PREFIX"
        ),
    )
    made = sqlite_project.subprocess("makemigrations", "--name", "initial", env=env)
    assert made.returncode == 0, made.stderr
    sqlite_project.write("migrations/0002_unique_title.py", UNNAMED_UNIQUE)
    _settle()
    assert _fresh_migrate(sqlite_project, env) == (True, "uq_book_title")
    assert _fresh_migrate(sqlite_project, env) == (False, "uq_book_title")

    (shared / "sharedbase.py").write_text('PREFIX = "up"\n')
    _settle()
    assert _fresh_migrate(sqlite_project, env) == (True, "up_book_title")
