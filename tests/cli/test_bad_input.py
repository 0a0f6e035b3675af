"""Bad input: exit 3 (2 for usage), one message naming the problem and the fix, nothing written."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import Project

PASSWORD = "s3cretPW-9f2"
TABLE = '[tool.manage]\nmodels = "shop.models:Base"\n'

MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    op.create_table("t_{rev}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("t_{rev}")
"""


def table(project: Project, new: str) -> None:
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text().replace(TABLE, new))


def migration(rev: str, down: str | None) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        project.write(f"migrations/{rev}.py", MIGRATION.format(rev=rev, down=down))

    return setup


def steps(*setups: Callable[[Project], None]) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        for step in setups:
            step(project)

    return setup


def env(name: str, value: str) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        import os

        os.environ[name] = value

    return setup


def migrated_then_removed(project: Project) -> None:
    migration("0001_a", None)(project)
    migration("0002_b", "0001_a")(project)
    assert project.run("migrate").exit_code == 0
    (project.root / "migrations/0002_b.py").unlink()


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[Project], None]
    args: tuple[str, ...]
    message: str
    exit_code: int = 3


CASES = [
    Case(
        "no-manage-table",
        lambda p: table(p, ""),
        ("makemigrations",),
        "No [tool.manage] table in a pyproject.toml in '{root}' or any parent folder. "
        'Add one with models = "yourpackage.models:Base", '
        "or pass --settings with a settings module.",
    ),
    Case(
        "models-module-not-importable",
        lambda p: table(p, '[tool.manage]\nmodels = "shop.modelz:Base"\n'),
        ("makemigrations",),
        "Could not import models 'shop.modelz': there is no module named 'shop.modelz'. "
        "Check the name in your settings and that the module is in the project folder.",
    ),
    Case(
        "models-module-raises",
        lambda p: p.edit("shop/models.py", "class Author(Base):", "Colum\n\n\nclass Author(Base):"),
        ("makemigrations",),
        "Importing models 'shop.models' failed: NameError: name 'Colum' is not defined "
        "({root}/shop/models.py, line 11). Fix the error.",
    ),
    Case(
        "models-import-a-missing-dependency",
        lambda p: p.edit(
            "shop/models.py",
            "from sqlalchemy import",
            "import flask_sqlalchemy\nfrom sqlalchemy import",
        ),
        ("makemigrations",),
        "Importing models 'shop.models' failed: ModuleNotFoundError: No module named "
        "'flask_sqlalchemy' ({root}/shop/models.py, line 3). Fix the import error.",
    ),
    Case(
        "models-attribute-missing",
        lambda p: table(p, '[tool.manage]\nmodels = "shop.models:Bsae"\n'),
        ("makemigrations",),
        "Module 'shop.models' has no attribute 'Bsae' (models 'shop.models:Bsae'). "
        "Define it there, or point the setting at the right name.",
    ),
    Case(
        "models-not-a-base",
        lambda p: table(p, '[tool.manage]\nmodels = "shop.models:ForeignKey"\n'),
        ("makemigrations",),
        "'shop.models:ForeignKey' is a class ForeignKey, not a DeclarativeBase subclass or "
        'MetaData. Point models at your declarative Base, e.g. models = "shop.models:Base".',
    ),
    Case(
        "module-with-two-bases",
        lambda p: (
            table(p, '[tool.manage]\nmodels = "shop.models"\n'),
            p.edit(
                "shop/models.py",
                "class Author(Base):",
                "class Other(DeclarativeBase):\n    pass\n\n\nclass Author(Base):",
            ),
        ),
        ("makemigrations",),
        "Module 'shop.models' has several Bases/MetaData ('shop.models:Base', "
        "'shop.models:Other'). Name the one to use, e.g. models = \"shop.models:Base\", or list "
        "them all.",
    ),
    Case(
        "models-setting-missing",
        lambda p: table(p, '[tool.manage]\nmigrations = "migrations"\n'),
        ("migrate",),
        "No models setting in pyproject.toml [tool.manage]. Add models = "
        '"yourpackage.models:Base" naming your declarative Base or MetaData.',
    ),
    Case(
        "unknown-setting",
        lambda p: table(p, '[tool.manage]\nmodles = "shop.models:Base"\n'),
        ("migrate",),
        "Unknown setting 'modles' in [tool.manage] ({root}/pyproject.toml). Did you mean "
        "'models'? Valid settings: models, database_url, migrations, version_table, "
        "version_table_schema, import, exclude_tables, include_object, shadow_database_url, "
        "commands, autogenerate_plugins, bootstrap, ddl_lock_timeout, ddl_retries, safe_ddl, "
        "databases.",
    ),
    Case(
        "invalid-toml",
        lambda p: table(p, '[tool.manage]\nmodels = "shop.models:Base\n'),
        ("migrate",),
        "{root}/pyproject.toml is not valid TOML: Illegal character '\\n' (at line 6, column 27). "
        "Fix the file.",
    ),
    Case(
        "settings-module-missing",
        lambda p: None,
        ("--settings", "shop.setings", "migrate"),
        "Could not import settings module 'shop.setings': there is no module named "
        "'shop.setings'. Check the name in your settings and that the module is in the project "
        "folder.",
    ),
    Case(
        "invalid-database-url",
        env("DATABASE_URL", f"postgres//app:{PASSWORD}@db/shop"),
        ("migrate",),
        "Invalid database URL 'postgres//app:***@db/shop' (from DATABASE_URL environment "
        "variable). Use the form dialect+driver://user:password@host:port/database, e.g. "
        "postgresql+psycopg://app@localhost/app or sqlite:///db.sqlite3.",
    ),
    Case(
        "driver-not-installed",
        env("DATABASE_URL", f"mysql://app:{PASSWORD}@127.0.0.1/shop"),
        ("migrate",),
        "The database driver for mysql:// is not available (No module named 'MySQLdb'). "
        "Install the driver, or name an installed one, e.g. mysql+pymysql://",
    ),
    Case(
        "server-unreachable",
        env("DATABASE_URL", f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/shop"),
        ("migrate",),
        "Could not connect to the database at postgresql+psycopg://app:***@127.0.0.1:1/shop: "
        'connection to server at "127.0.0.1", port 1 failed: Connection refused. Check that '
        "the server is running and that database_url (or DATABASE_URL) is right.",
    ),
    Case(
        "server-unreachable-for-the-shadow-database",
        env("DATABASE_URL", f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:1/shop"),
        ("makemigrations",),
        "Could not connect to the database at mysql+pymysql://app:***@127.0.0.1:1/shop: "
        "Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused). "
        "Check that the server is running and that database_url (or DATABASE_URL) is right.",
    ),
    Case(
        "migration-syntax-error",
        lambda p: p.write(
            "migrations/0001_bad.py", "revision = '0001_bad'\ndef upgrade(:\n    pass\n"
        ),
        ("showmigrations",),
        "Migration file migrations/0001_bad.py has a syntax error at line 2: invalid syntax. "
        "Fix the file.",
    ),
    Case(
        "migration-raises-on-import",
        lambda p: p.write(
            "migrations/0001_bad.py", "import shop.nothing_here\nrevision = '0001_bad'\n"
        ),
        ("migrate",),
        "Loading migration file migrations/0001_bad.py failed: ModuleNotFoundError: No module "
        "named 'shop.nothing_here' ({root}/migrations/0001_bad.py, line 1). Fix the file.",
    ),
    Case(
        "duplicate-revision-id",
        lambda p: (
            migration("0001_a", None)(p),
            p.write("migrations/0001_copy.py", MIGRATION.format(rev="0001_a", down=None)),
        ),
        ("migrate",),
        "Two migration files have the revision id '0001_a': migrations/0001_a.py and "
        "migrations/0001_copy.py. Give one of them a new revision id (and fix the down_revision "
        "that points at it), or delete the copy.",
    ),
    Case(
        "down-revision-points-nowhere",
        steps(migration("0001_a", None), migration("0002_b", "0001_x")),
        ("makemigrations",),
        "Migration migrations/0002_b.py has down_revision = '0001_x', but no migration has that "
        "id (did you mean '0001_a'?). Point down_revision at an existing migration.",
    ),
    Case(
        "multiple-heads-on-migrate",
        steps(
            migration("0001_a", None), migration("0002_b", "0001_a"), migration("0002_c", "0001_a")
        ),
        ("migrate",),
        "Conflicting migrations: the history has several heads (0002_b, 0002_c). "
        "Run 'manage makemigrations --merge' to write a merge migration.",
    ),
    Case(
        "unknown-target",
        steps(migration("0001_a", None), migration("0002_b", "0001_a")),
        ("migrate", "0005"),
        "Unknown migration '0005'. Nearest valid ids: 0001_a, 0002_b. "
        "Run 'manage showmigrations' to list them.",
    ),
    Case(
        "database-at-a-revision-not-on-disk",
        migrated_then_removed,
        ("migrate",),
        "The database is at revision '0002_b', which is not in migrations/. Restore that "
        "migration file (for example from version control or the branch that added it); if it "
        "was removed on purpose, record a revision that exists with 'manage migrate <id> --fake'.",
    ),
    Case(
        "migrations-setting-is-a-file",
        lambda p: (
            table(p, TABLE + 'migrations = "README"\n'),
            p.write("README", "not a folder\n"),
        ),
        ("showmigrations",),
        "The migrations setting points at '{root}/README', which is a file. Point it at a folder.",
    ),
    Case(
        "include-object-not-a-function",
        lambda p: table(p, TABLE + 'include_object = "shop.models:Base"\n'),
        ("makemigrations",),
        "include_object 'shop.models:Base' is a class, not a function. "
        "Point it at a function(object, name, type_, reflected, compare_to) -> bool.",
    ),
    Case(
        "include-object-raises",
        lambda p: (
            table(p, TABLE + 'include_object = "shop.hooks:include"\n'),
            p.write(
                "shop/hooks.py",
                "def include(obj, name, type_, reflected, compare_to):\n    return 1 / 0\n",
            ),
        ),
        ("makemigrations",),
        "The include_object hook failed on table 'author': ZeroDivisionError: division by zero "
        "({root}/shop/hooks.py, line 2). Fix the hook.",
    ),
    Case(
        "password-holding-an-at-sign-in-a-broken-url",
        env("DATABASE_URL", f"postgres//app:{PASSWORD}@x@db/shop"),
        ("migrate",),
        "Invalid database URL 'postgres//app:***@db/shop' (from DATABASE_URL environment "
        "variable). Use the form dialect+driver://user:password@host:port/database, e.g. "
        "postgresql+psycopg://app@localhost/app or sqlite:///db.sqlite3.",
    ),
    Case(
        "history-with-a-cycle",
        steps(migration("0001_a", "0002_b"), migration("0002_b", "0001_a")),
        ("showmigrations",),
        "The migrations migrations/0001_a.py and migrations/0002_b.py form a cycle (0001_a -> "
        "0002_b -> 0001_a: each comes after the next through down_revision or depends_on), so "
        "none of them can run first. Point the down_revision (or depends_on) of one of them at a "
        "migration outside the cycle, or at None if it is the first migration.",
    ),
    Case(
        "depends-on-points-nowhere",
        lambda p: p.write(
            "migrations/0001_a.py",
            MIGRATION.format(rev="0001_a", down=None) + 'depends_on = "0000_gone"\n',
        ),
        ("migrate",),
        "Migration migrations/0001_a.py has depends_on = '0000_gone', but no migration has that "
        "id or branch label. Fix depends_on.",
    ),
    Case(
        "branch-label-reuses-an-id",
        steps(
            migration("0001_a", None),
            lambda p: p.write(
                "migrations/0002_b.py",
                MIGRATION.format(rev="0002_b", down="0001_a") + 'branch_labels = ("0001_a",)\n',
            ),
        ),
        ("showmigrations",),
        "The migration history in migrations/ is inconsistent: Branch name '0001_a' in revision "
        "0002_b already used by revision 0001_a. Fix the down_revision, depends_on or "
        "branch_labels of the migrations it names.",
    ),
    Case(
        "migration-without-upgrade",
        lambda p: p.write("migrations/0001_a.py", "revision = '0001_a'\ndown_revision = None\n"),
        ("migrate",),
        "Migration migrations/0001_a.py has no upgrade() function. Add one (its body may be just "
        "'pass').",
    ),
    Case(
        "model-foreign-key-to-a-missing-table",
        lambda p: p.edit("shop/models.py", 'ForeignKey("author.id")', 'ForeignKey("authr.id")'),
        ("makemigrations",),
        "Comparing the models with the migrations failed: Foreign key associated with column "
        "'book.author_id' could not find table 'authr' with which to generate a foreign key to "
        "target column 'id'. Fix the models.",
    ),
    Case(
        "migrations-folder-cannot-be-created",
        lambda p: table(p, TABLE + 'migrations = "pyproject.toml/migrations"\n'),
        ("makemigrations",),
        "Could not write {root}/pyproject.toml/migrations: Not a directory. Make the migrations "
        "folder writable, or point the migrations setting at a folder that can be.",
    ),
    Case(
        "sql-of-a-migration-that-reads-the-database",
        lambda p: p.write(
            "migrations/0001_a.py",
            "import sqlalchemy as sa\nfrom alembic import op\n"
            "revision = '0001_a'\ndown_revision = None\n"
            "def upgrade():\n    op.get_bind().execute(sa.text('SELECT 1')).fetchall()\n"
            "def downgrade():\n    pass\n",
        ),
        ("migrate", "--sql"),
        "Cannot render the SQL of migration 0001_a offline: AttributeError: 'NoneType' object "
        "has no attribute 'fetchall' ({root}/migrations/0001_a.py, line 6). Migrations that read "
        "the database, or SQLite batch operations that copy a table, need a live database: run "
        "migrate without --sql.",
    ),
    Case(
        "unknown-dialect",
        env("DATABASE_URL", f"foo://app:{PASSWORD}@db/shop"),
        ("migrate", "--sql"),
        "Unknown database dialect 'foo' in 'foo://app:***@db/shop' (from DATABASE_URL "
        "environment variable). Use sqlite://, postgresql+psycopg://, mysql+pymysql:// or "
        "mariadb+pymysql://.",
    ),
    Case(
        "url-with-a-parameter-the-driver-refuses",
        env("DATABASE_URL", f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:1/shop?foo=bar"),
        ("showmigrations",),
        "The database driver refused the URL mysql+pymysql://app:***@127.0.0.1:1/shop?foo=bar: "
        "Connection.__init__() got an unexpected keyword argument 'foo'. Remove or fix the query "
        "parameters of the URL.",
    ),
    Case(
        "sqlite-url-with-a-host",
        env("DATABASE_URL", f"sqlite://app:{PASSWORD}@host/db.sqlite3"),
        ("migrate",),
        "The database URL sqlite://app:***@host/{root}/db.sqlite3 is not valid for sqlite: "
        "Invalid SQLite URL: sqlite://app:***@host/{root}/db.sqlite3 Valid SQLite URL forms are: "
        "sqlite:///:memory: (or, sqlite://) sqlite:///relative/path/to/file.db "
        "sqlite:////absolute/path/to/file.db. Fix the URL.",
    ),
    Case(
        "password-with-a-slash-in-a-broken-url",
        env("DATABASE_URL", f"postgresql://app:{PASSWORD}/x@db:port/shop"),
        ("migrate",),
        "Invalid database URL 'postgresql://app:***@db:port/shop' (from DATABASE_URL environment "
        "variable). Use the form dialect+driver://user:password@host:port/database, e.g. "
        "postgresql+psycopg://app@localhost/app or sqlite:///db.sqlite3.",
    ),
    Case(
        "tool-is-not-a-table",
        lambda p: (p.root / "pyproject.toml").write_text('tool = "manage"\n'),
        ("migrate",),
        "No [tool.manage] table in a pyproject.toml in '{root}' or any parent folder. "
        'Add one with models = "yourpackage.models:Base", '
        "or pass --settings with a settings module.",
    ),
    Case(
        "project-folder-missing",
        lambda p: None,
        ("-C", "no/such/folder", "migrate"),
        "Project folder '{root}/no/such/folder' does not exist. Pass an existing folder to -C.",
    ),
    Case(
        "name-not-an-identifier",
        lambda p: None,
        ("makemigrations", "-n", "add-price"),
        "'add-price' is not a valid migration name: use letters, digits and underscores.",
        exit_code=2,
    ),
    Case(
        "name-too-long",
        lambda p: None,
        ("makemigrations", "-n", "add_the_price_column_to_every_book"),
        "'add_the_price_column_to_every_book' is 34 characters long; migration names may have "
        "at most 27 so that the revision id fits Alembic's VARCHAR(32) version column.",
        exit_code=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(sqlite_project: Project, case: Case) -> None:
    case.setup(sqlite_project)
    before_files = sqlite_project.files()
    before_db = (sqlite_project.tables(), sqlite_project.version())

    started = time.monotonic()
    result = sqlite_project.run(*case.args)
    elapsed = time.monotonic() - started

    assert result.exit_code == case.exit_code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert PASSWORD not in result.output
    assert sqlite_project.files() == before_files, "nothing may be written"
    assert (sqlite_project.tables(), sqlite_project.version()) == before_db
    assert elapsed < 10
    if case.exit_code == 3:
        assert result.stderr == "Error: " + case.message.format(root=sqlite_project.root) + "\n"
    else:
        assert case.message in " ".join(result.stderr.replace("│", " ").split())


def test_traceback_flag_shows_the_traceback(sqlite_project: Project) -> None:
    table(sqlite_project, '[tool.manage]\nmodels = "shop.modelz:Base"\n')

    result = sqlite_project.run("--traceback", "makemigrations")

    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: Could not import models")


def test_a_password_never_appears_when_the_server_refuses(sqlite_project: Project) -> None:
    import os

    os.environ["DATABASE_URL"] = f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/shop"
    migration("0001_a", None)(sqlite_project)

    os.environ["DATABASE_URL"] += f"?password={PASSWORD}"
    for args in (
        ("-v", "3", "migrate"),
        ("-v", "3", "showmigrations"),
        ("-v", "3", "makemigrations"),
        ("--traceback", "migrate"),
        ("-v", "2", "migrate", "--sql"),
    ):
        result = sqlite_project.run(*args)
        assert PASSWORD not in result.output, args
        assert result.exit_code in (0, 3), result.output


@pytest.mark.parametrize("dialect_name", ["postgresql", "mariadb"])
def test_a_shadow_database_that_is_not_empty_is_refused(
    make_project: Callable[[str], Project],
    dialect_name: str,
    fresh_database: Callable[..., str],
    tmp_path: object,
) -> None:
    project = make_project(dialect_name)
    shadow = fresh_database(dialect_name, project.root)
    import sqlalchemy as sa

    engine = sa.create_engine(shadow)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE precious (id INTEGER PRIMARY KEY)")
    engine.dispose()
    table(project, TABLE + f'shadow_database_url = "{shadow}"\n')

    result = project.run("makemigrations")

    assert result.exit_code == 3
    assert "is not empty (it has precious)" in result.stderr
    assert project.migrations() == []


EXTRAS = """
from alembic import op

revision = "0002_extras"
down_revision = "0001_initial"


def upgrade() -> None:
    op.execute("CREATE SEQUENCE invoice_no")
    op.execute("CREATE VIEW book_titles AS SELECT title FROM book")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION one() RETURNS integer AS 'SELECT 1' LANGUAGE SQL")


def downgrade() -> None:
    pass
"""


@pytest.mark.parametrize("dialect_name", ["postgresql", "mariadb"])
def test_a_given_shadow_database_is_used_and_left_empty(
    make_project: Callable[[str], Project], dialect_name: str, fresh_database: Callable[..., str]
) -> None:
    project = make_project(dialect_name)
    shadow = fresh_database(dialect_name, project.root)
    table(project, TABLE + f'shadow_database_url = "{shadow}"\n')
    project.run("makemigrations")
    project.write("migrations/0002_extras.py", EXTRAS)
    project.edit(
        "shop/models.py",
        "    title: Mapped[str]",
        "    price: Mapped[int | None]\n    title: Mapped[str]",
    )

    first = project.run("makemigrations", "--check")
    second = project.run("makemigrations")

    assert first.exit_code == 1, first.output
    assert second.exit_code == 0, second.output
    assert project.migrations() == [
        "0001_initial.py",
        "0002_extras.py",
        "0003_add_book_price.py",
    ]
    import sqlalchemy as sa

    engine = sa.create_engine(shadow)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert inspector.get_table_names() == []
        assert inspector.get_view_names() == []
        assert inspector.get_sequence_names() == []
        if dialect_name == "postgresql":
            functions = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_proc WHERE proname = 'one'"
            ).scalar()
            assert functions == 0
    engine.dispose()
