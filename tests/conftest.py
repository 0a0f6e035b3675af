"""Fixtures: a project built in tmp_path, the real CLI, and a fresh database per test.

PostgreSQL and MariaDB tests run when MANAGE_TEST_POSTGRESQL_URL / MANAGE_TEST_MARIADB_URL name a
server (``.ci/run`` sets both); without them they skip with that reason. Given a URL, a server that
cannot be reached fails the test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from manage.cli import app

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs pytest on generated projects
sys.dont_write_bytecode = True  # an edited models.py must never be read back from a stale .pyc
# The manage processes tests start compile as users' do: a compiled file kept stale by an edit
# that keeps size and mtime must not change an answer (core/bytecode.py).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

PROJECTS = Path(__file__).parent / "projects"
SERVER_ENV = {"postgresql": "MANAGE_TEST_POSTGRESQL_URL", "mariadb": "MANAGE_TEST_MARIADB_URL"}
DIALECTS = ["sqlite", "postgresql", "mariadb"]
BIN = Path(sys.executable).parent


def server_url(dialect: str) -> str:
    """The server URL for ``dialect``, or skip the test saying how to enable it."""
    variable = SERVER_ENV[dialect]
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{variable} is not set; set it to a {dialect} server URL to run this test")
    return url


def _admin_engine(url: str) -> sa.Engine:
    parsed = make_url(url)
    admin = parsed.set(database="postgres" if parsed.get_backend_name() == "postgresql" else None)
    return sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture
def fresh_database() -> Iterator[object]:
    """A factory: ``fresh_database(dialect, tmp_path)`` -> URL of a new empty database."""
    created: list[tuple[str, str]] = []

    def make(dialect: str, folder: Path) -> str:
        if dialect == "sqlite":
            return f"sqlite:///{folder / 'db.sqlite3'}"
        base = server_url(dialect)
        name = f"manage_test_{secrets.token_hex(5)}"
        engine = _admin_engine(base)
        with engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        created.append((base, name))
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    yield make
    for base, name in created:
        engine = _admin_engine(base)
        force = " WITH (FORCE)" if make_url(base).get_backend_name() == "postgresql" else ""
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        engine.dispose()


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with the environment, sys.path and sys.modules it would have alone."""
    saved_path, saved_env = list(sys.path), dict(os.environ)
    for variable in ("DATABASE_URL", "MANAGE_SETTINGS_MODULE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # manage's caches
    monkeypatch.chdir(tmp_path)
    yield
    sys.path[:] = saved_path
    os.environ.clear()
    os.environ.update(saved_env)
    forget_modules(tmp_path)


def forget_modules(folder: Path) -> None:
    """Drop modules imported from ``folder``, as a new ``manage`` process would not have them,
    and the tables and classes they put into SQLModel's one global MetaData and registry."""
    prefix = str(folder)
    forgot = False
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(prefix):
            del sys.modules[name]
            forgot = True
    sqlmodel = sys.modules.get("sqlmodel.main")
    if forgot and sqlmodel is not None:
        sqlmodel.SQLModel.metadata.clear()
        sqlmodel.default_registry.dispose()


@dataclass
class Project:
    """A user's project in a temporary folder, driven through the real ``manage`` CLI."""

    root: Path
    database_url: str
    dialect: str

    @property
    def url_in_effect(self) -> str:
        """The URL manage connects with: DATABASE_URL when set (the asyncio driver's under
        MANAGE_TEST_DRIVERS=async), else the embedded SQLite default."""
        return os.environ.get("DATABASE_URL") or self.database_url

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def run(self, *args: str, input: str | None = None) -> Result:
        """``manage ARGS`` in the project folder, in-process, as a new process would see it."""
        forget_modules(self.root)
        return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)

    def subprocess(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [str(BIN / "manage"), *args],
            cwd=cwd or self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def subprocess_input(
        self, args: list[str], stdin: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``manage ARGS`` in a new process, with ``stdin`` as its input."""
        return subprocess.run(
            [str(BIN / "manage"), *args],
            cwd=self.root,
            env={**os.environ, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def files(self) -> dict[str, bytes]:
        """Every file of the project (not the SQLite database), to prove nothing was written."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and not p.name.endswith(".sqlite3") and "__pycache__" not in p.parts
        }

    def migrations(self) -> list[str]:
        folder = self.root / "migrations"
        return sorted(p.name for p in folder.glob("*.py")) if folder.exists() else []

    # -- the real database -------------------------------------------------------------------

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)

    def database_exists(self) -> bool:
        if self.dialect == "sqlite":
            return Path(make_url(self.database_url).database or "").exists()
        return True

    def tables(self) -> set[str]:
        """The tables in the database, but manage's own history table (tests/cli/test_history.py
        looks at that one)."""
        if not self.database_exists():
            return set()
        engine = self.engine()
        try:
            with engine.connect() as connection:
                names = set(sa.inspect(connection).get_table_names())
                return names - {"manage_migration_history"}
        finally:
            engine.dispose()

    def columns(self, table: str) -> list[str]:
        engine = self.engine()
        try:
            with engine.connect() as connection:
                return [c["name"] for c in sa.inspect(connection).get_columns(table)]
        finally:
            engine.dispose()

    def version(self) -> set[str]:
        """What the version table records."""
        if "alembic_version" not in self.tables():
            return set()
        engine = self.engine()
        try:
            with engine.connect() as connection:
                rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                return {row[0] for row in rows}
        finally:
            engine.dispose()


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_project(tmp_path: Path, fresh_database: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """``make_project(dialect="sqlite", name="shop")``: copy tests/projects/<name> and point
    DATABASE_URL at a fresh database (SQLite uses the embedded default ``db.sqlite3``)."""

    def make(dialect: str = "sqlite", name: str = "shop", folder: str = "project") -> Project:
        root = tmp_path / folder
        shutil.copytree(PROJECTS / name, root)
        url = fresh_database(dialect, root)  # type: ignore[operator]
        if dialect != "sqlite":
            monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.chdir(root)
        return Project(root, url, dialect)

    return make


@pytest.fixture
def project(make_project: object, dialect: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The shop project on each of SQLite, PostgreSQL and MariaDB; with MANAGE_TEST_DRIVERS=async,
    through the asyncio drivers (aiosqlite, asyncpg, aiomysql), as ``.ci/run`` runs the main
    flows a second time."""
    made: Project = make_project(dialect)  # type: ignore[operator]
    if os.environ.get("MANAGE_TEST_DRIVERS") == "async":
        monkeypatch.setenv("DATABASE_URL", async_url(made.database_url, dialect))
    return made


@pytest.fixture
def sqlite_project(make_project: object) -> Project:
    """The shop project on the embedded SQLite default, for dialect-independent behaviour."""
    return make_project("sqlite")  # type: ignore[operator, no-any-return]


# -- asyncio drivers (tests/cli/test_async.py) ---------------------------------------------------

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                 "mariadb": "mysql+aiomysql"}  # fmt: skip


def async_url(url: str, dialect: str) -> str:
    """``url`` (a fixture's sync URL) with the asyncio driver of ``dialect`` instead."""
    return make_url(url).set(drivername=ASYNC_DRIVERS[dialect]).render_as_string(False)


@pytest.fixture
def async_project(make_project: object, dialect: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The shop project on each of aiosqlite, asyncpg and aiomysql: DATABASE_URL names the async
    driver; ``database_url`` stays the sync one, for the test's own look at the database."""
    made: Project = make_project(dialect)  # type: ignore[operator]
    monkeypatch.setenv("DATABASE_URL", async_url(made.database_url, dialect))
    return made
