"""Async driver URLs (FastAPI, Litestar): every command runs through aiosqlite, asyncpg, aiomysql.

``async_project`` sets DATABASE_URL to ``sqlite+aiosqlite://``, ``postgresql+asyncpg://`` or
``mysql+aiomysql://`` on a fresh database; the test looks at the result with the sync driver.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import sqlalchemy.dialects.postgresql  # before pytester's sys.modules snapshots: imported once

import manage
from tests.cli.test_locking import RUNS, WAITING, holding_the_lock, start, wait_for
from tests.conftest import Project, async_url

PRICE = "    title: Mapped[str] = mapped_column(String(200))\n"
WITH_PRICE = PRICE + "    price: Mapped[int | None]\n"

# A data migration that runs only on the asyncio driver: each run (migrate, and the replay into
# the shadow database that writing 0003 needs) proves which driver carried it.
ON_THE_ASYNC_DRIVER = '''
"""Record the driver that ran this migration."""

import sqlalchemy as sa
from alembic import op

revision = "0002_driver"
down_revision = "0001_initial"


def upgrade() -> None:
    bind = op.get_bind()
    if not bind.dialect.is_async:
        raise RuntimeError(f"run on {bind.dialect.driver}, not on the asyncio driver")
    op.execute(sa.text("INSERT INTO author (name) VALUES (:name)").bindparams(
        name=bind.dialect.driver))


def downgrade() -> None:
    op.execute("DELETE FROM author")
'''


def rows(project: Project, query: str) -> list[tuple[object, ...]]:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(query)]
    finally:
        engine.dispose()


DRIVER = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "mariadb": "aiomysql"}


def test_every_command_runs_on_the_async_driver(async_project: Project) -> None:
    project = async_project
    made = project.run("makemigrations")
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[:2] == ["Migrations:", "  migrations/0001_initial.py"]
    project.write("migrations/0002_driver.py", ON_THE_ASYNC_DRIVER)

    migrated = project.run("migrate")

    assert migrated.exit_code == 0, migrated.output
    assert migrated.stdout.splitlines()[-2:] == [
        "  Applying 0001_initial... OK",
        "  Applying 0002_driver... OK",
    ]
    assert rows(project, "SELECT name FROM author") == [(DRIVER[project.dialect],)]
    assert project.version() == {"0002_driver"}
    history = rows(project, "SELECT revision FROM manage_migration_history ORDER BY id")
    assert history == [("0001_initial",), ("0002_driver",)]
    shown = project.run("showmigrations")
    assert shown.stdout.splitlines() == [" [X] 0001_initial", " [X] 0002_driver (head)"]
    assert project.run("makemigrations", "--check").exit_code == 0

    project.edit("shop/models.py", PRICE, WITH_PRICE)
    checked = project.run("makemigrations", "--check")
    assert checked.exit_code == 1, checked.output
    assert "    + Add column price to book" in checked.stdout
    # Writing 0003 replays 0001 and 0002 into a shadow database: 0002 refuses a sync driver.
    written = project.run("makemigrations")
    assert written.exit_code == 0, written.output
    assert "  migrations/0003_add_book_price.py" in written.stdout.splitlines()
    sql = project.run("sqlmigrate", "0003")
    assert sql.exit_code == 0, sql.output
    assert "ALTER TABLE book ADD" in sql.stdout
    assert project.run("migrate").exit_code == 0
    assert "price" in project.columns("book")

    checked = project.run("check", "--database")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.splitlines()[-3:] == [
        f"[OK]   database reachable: {async_url(project.database_url, project.dialect)}",
        "[OK]   database at head: at 0003_add_book_price",
        "System check identified no issues.",
    ]

    back = project.run("migrate", "0001", "--allow-data-loss")
    assert back.exit_code == 0, back.output
    assert back.stdout.splitlines()[-2:] == [
        "  Unapplying 0003_add_book_price... OK",
        "  Unapplying 0002_driver... OK",
    ]
    assert project.version() == {"0001_initial"}
    zero = project.run("migrate", "zero")
    assert zero.exit_code == 0, zero.output
    assert project.tables() == {"alembic_version"}
    assert project.run("migrate", "--check").exit_code == 1


def test_a_failed_migration_on_aiosqlite_rolls_back_its_ddl(make_project: object) -> None:
    project: Project = make_project("sqlite")  # type: ignore[operator]
    os.environ["DATABASE_URL"] = async_url(project.database_url, "sqlite")
    assert project.run("makemigrations").exit_code == 0
    project.write(
        "migrations/0002_broken.py",
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "0002_broken"
        down_revision = "0001_initial"


        def upgrade() -> None:
            op.create_table("half", sa.Column("id", sa.Integer, primary_key=True))
            op.execute("INSERT INTO nowhere VALUES (1)")


        def downgrade() -> None:
            op.drop_table("half")
        """,
    )

    result = project.run("migrate")

    assert result.exit_code == 3, result.output
    assert "no such table: nowhere" in result.stderr
    assert "Traceback" not in result.output
    assert project.version() == {"0001_initial"}
    assert "half" not in project.tables()


def test_migrate_on_asyncpg_waits_for_the_lock_a_psycopg_run_holds(
    make_project: object,
) -> None:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    os.environ["DATABASE_URL"] = async_url(project.database_url, "postgresql")
    assert project.run("makemigrations").exit_code == 0

    with holding_the_lock(project):
        result = project.run("migrate", "--lock-timeout", "0.5")

    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        WAITING,
        "Error: Another manage migrate held the migration lock on "
        f"{async_url(project.database_url, 'postgresql')} for more than 0.5 seconds. Wait for "
        "it to finish and run migrate again, or raise --lock-timeout.",
    ]
    assert project.tables() == set()


def test_concurrent_migrate_runs_on_the_async_driver_apply_each_migration_once(
    async_project: Project,
) -> None:
    project = async_project
    assert project.run("makemigrations").exit_code == 0
    logs = [project.root / f"run{i}" for i in range(RUNS // 2)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    with holding_the_lock(project):  # the sync driver's lock: the same lock
        runs = [start(["--no-color", "migrate"], project.root, log, env) for log in logs]
        wait_for(lambda: all(WAITING in log.with_suffix(".err").read_text() for log in logs))
    codes = [run.wait(timeout=120) for run in runs]

    outputs = [log.with_suffix(".out").read_text() for log in logs]
    assert codes == [0] * len(logs), [log.with_suffix(".err").read_text() for log in logs]
    assert sum("Applying 0001_initial... OK" in out for out in outputs) == 1
    assert rows(project, "SELECT revision FROM manage_migration_history") == [("0001_initial",)]


def test_given_shadow_database_url_on_the_async_driver(
    async_project: Project, fresh_database: object, tmp_path: Path
) -> None:
    project = async_project
    (tmp_path / "shadow").mkdir()
    shadow = fresh_database(project.dialect, tmp_path / "shadow")  # type: ignore[operator]
    path = project.root / "pyproject.toml"
    given = async_url(shadow, project.dialect)
    path.write_text(path.read_text() + f'shadow_database_url = "{given}"\n')
    assert project.run("makemigrations").exit_code == 0
    project.write("migrations/0002_driver.py", ON_THE_ASYNC_DRIVER)
    project.edit("shop/models.py", PRICE, WITH_PRICE)

    result = project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert "  migrations/0003_add_book_price.py" in result.stdout.splitlines()
    engine = sa.create_engine(shadow, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []  # left empty again
    engine.dispose()


def test_call_command_inside_a_running_event_loop_and_inside_run_sync(
    make_project: object,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    project: Project = make_project("sqlite")  # type: ignore[operator]
    url = async_url(project.database_url, "sqlite")
    os.environ["DATABASE_URL"] = url
    assert project.run("makemigrations").exit_code == 0

    async def startup() -> tuple[object, object]:
        applied = manage.call_command("migrate")  # a FastAPI lifespan calling manage
        engine = create_async_engine(url)
        async with engine.connect() as connection:  # Alembic's async template
            shown = await connection.run_sync(lambda _: manage.call_command("showmigrations"))
        await engine.dispose()
        return applied, shown

    applied, shown = asyncio.run(startup())

    assert [step.revision for step in applied.steps] == ["0001_initial"]  # type: ignore[attr-defined]
    assert [(m.id, m.applied) for m in shown.migrations] == [("0001_initial", True)]  # type: ignore[attr-defined]


def test_shell_inspectdb_and_project_commands_on_the_async_driver(async_project: Project) -> None:
    project = async_project
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    project.write(
        "shop/commands.py",
        """
        from manage import Context, command

        from shop.models import Author


        @command()
        def seed(ctx: Context) -> None:
            with ctx.session() as session, session.begin():
                session.add(Author(name="Ursula"))
            print(ctx.engine.dialect.driver)
        """,
    )
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text() + 'commands = ["shop.commands"]\n')

    seeded = project.run("seed")
    assert seeded.exit_code == 0, seeded.output
    assert seeded.stdout == f"{DRIVER[project.dialect]}\n"
    shell = project.run(
        "shell", "-c", "print(session.scalar(select(func.count()).select_from(Author)))"
    )
    assert shell.exit_code == 0, shell.output
    assert shell.stdout == "1\n"
    inspected = project.run("inspectdb", "author")
    assert inspected.exit_code == 0, inspected.output
    assert "class Author(Base):" in inspected.stdout


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mariadb"])
def test_dbshell_opens_the_client_of_the_async_urls_database(
    make_project: object, dialect: str
) -> None:
    project: Project = make_project(dialect)  # type: ignore[operator]
    url = async_url(project.database_url, dialect)
    assert project.run("--database-url", url, "makemigrations").exit_code == 0
    assert project.run("--database-url", url, "migrate").exit_code == 0
    query = "SELECT count(*) FROM author"
    parameters = {"sqlite": [query], "postgresql": ["-tAc", query], "mariadb": ["-N", "-e", query]}

    result = project.subprocess("--database-url", url, "dbshell", "--", *parameters[dialect])

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


@pytest.mark.parametrize("missing", ["greenlet", "aiosqlite"])
def test_a_missing_greenlet_or_driver_names_the_async_extra(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    url = async_url(sqlite_project.database_url, "sqlite")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setitem(sys.modules, missing, None)  # as if it were not installed
    before = sqlite_project.files()

    for command in (["makemigrations"], ["migrate"], ["showmigrations"]):
        result = sqlite_project.run(*command)

        assert result.exit_code == 3, result.output
        assert result.stderr == (
            f"Error: The database URL uses the asyncio driver sqlite+aiosqlite://, which needs "
            f"the '{missing}' package, and it is not installed. Install it: pip install "
            "'sqlalchemy-manage[async]' (greenlet, asyncpg, aiosqlite, aiomysql).\n"
        )
    assert sqlite_project.files() == before
    assert not (sqlite_project.root / "db.sqlite3").exists()
    checked = sqlite_project.run("check")
    assert checked.exit_code == 1, checked.output
    assert checked.stdout.splitlines()[0].startswith("[FAIL] settings: The database URL uses")


def test_asyncpg_gets_its_own_connect_timeout_argument(make_project: object) -> None:
    project: Project = make_project("sqlite")  # type: ignore[operator]

    result = project.run(
        "--database-url", "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", "migrate"
    )

    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(
        "Error: Could not connect to the database at postgresql+asyncpg://postgres@127.0.0.1:1/"
        "nowhere: "
    )
    assert "connect_timeout" not in result.stderr
    assert "Traceback" not in result.output


def test_sqlalchemy_names_used_for_async_drivers() -> None:
    """manage.core.drivers uses two names of sqlalchemy.util.concurrency (2.0 and 2.1)."""
    from sqlalchemy.util.concurrency import greenlet_spawn, in_greenlet

    from manage.core.drivers import connect_args

    async def inside() -> bool:
        return bool(await greenlet_spawn(in_greenlet))

    assert asyncio.run(inside()) is True
    assert in_greenlet() is False
    timeouts = {
        url: connect_args(sa.engine.make_url(url))
        for url in (
            "postgresql+asyncpg://h/d",
            "postgresql+psycopg://h/d",
            "mysql+aiomysql://h/d",
            "mysql+asyncmy://h/d",
            "postgresql+asyncpg://h/d?timeout=30",
            "sqlite+aiosqlite:///x",
        )
    }
    assert timeouts == {
        "postgresql+asyncpg://h/d": {"timeout": 5},
        "postgresql+psycopg://h/d": {"connect_timeout": 5},
        "mysql+aiomysql://h/d": {"connect_timeout": 5},
        "mysql+asyncmy://h/d": {"connect_timeout": 5},
        "postgresql+asyncpg://h/d?timeout=30": {},
        "sqlite+aiosqlite:///x": {},
    }


def test_dbshell_gives_psql_the_libpq_names_of_asyncpgs_url_query(sqlite_project: Project) -> None:
    from dataclasses import replace

    from manage.commands import dbshell
    from manage.core.settings import load_settings

    seen: list[dict[str, str]] = []
    url = "postgresql+asyncpg://u:secret@db/shop?ssl=verify-full&timeout=9"

    result = dbshell(
        replace(load_settings(), database_url=url), run=lambda _argv, env: seen.append(env) or 0
    )

    assert result.argv[1:] == ("-h", "db", "-U", "u", "shop")
    assert {name: seen[0][name] for name in result.environment} == {
        "PGCONNECT_TIMEOUT": "9",
        "PGPASSWORD": "secret",
        "PGSSLMODE": "verify-full",
    }


ASYNC_USER_TEST = """
import asyncio

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine


def test_the_app_engine_sees_the_migrated_tables(migrated_database):
    async def tables():
        engine = create_async_engine(migrated_database.url)
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
        await engine.dispose()
        return set(names)

    assert {"author", "book"} <= asyncio.run(tables())
"""


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_pytest_plugin_migrates_through_the_async_driver(
    pytester: pytest.Pytester, fresh_database: object, dialect: str
) -> None:
    import shutil

    from manage.core.settings import load_settings
    from manage.core.testdb import drop_templates
    from tests.conftest import PROJECTS

    root = pytester.path
    shutil.copytree(PROJECTS / "shop", root, dirs_exist_ok=True)
    url = async_url(fresh_database(dialect, root), dialect)  # type: ignore[operator]
    os.environ["DATABASE_URL"] = url
    Project(root, url, dialect).run("makemigrations")
    pytester.makepyfile(test_app=ASYNC_USER_TEST)
    try:
        result = pytester.runpytest_subprocess("--manage-migrations", "-p", "no:cacheprovider")
    finally:
        if dialect == "postgresql":
            drop_templates(load_settings(cwd=root))

    result.assert_outcomes(passed=5)
