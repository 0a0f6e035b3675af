"""A database password never shows: not in any output, any file written, nor any process's argv.

Every command, and its error paths, runs as a real process with DATABASE_URL naming a PostgreSQL
role that has a distinctive password (the test server trusts local connections, so any password
would do; what matters is that manage is given one). While each runs, the command lines of every
process on the machine are read from /proc.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.cli.test_locking import holding_the_lock, write_audited_history
from tests.conftest import BIN, Project

PASSWORD = "Zebra-7734/secret@Pw:x"
FORMS = (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD))

BROKEN = '''
"""broken"""

from alembic import op

revision = "0005_broken"
down_revision = "0004_view"


def upgrade() -> None:
    op.execute("SELECT * FROM no_such_table")


def downgrade() -> None:
    pass
'''

# Raw DDL: makemigrations cannot replay it in memory and uses a shadow database on the server.
VIEW = '''
"""view"""

from alembic import op

revision = "0004_view"
down_revision = "0003_book"


def upgrade() -> None:
    op.execute("CREATE VIEW book_titles AS SELECT title FROM book")


def downgrade() -> None:
    op.execute("DROP VIEW book_titles")
'''


ISBN = "    isbn: Mapped[str | None]\n    title: Mapped[str]"


class ArgvWatch:
    """Reads /proc/*/cmdline until stopped; remembers any that holds the password."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.found: list[str] = []
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if "manage" in argv:
                    self.seen.add(argv)
                if any(form in argv for form in FORMS):
                    self.found.append(argv)
            self.scans += 1
            self._stop.wait(0.02)  # leave the CPU to the process being watched

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def role_url(make_project: Callable[[str], Project]) -> Iterator[tuple[Project, str]]:
    project = make_project("postgresql")
    url = make_url(project.database_url)
    role = f"manage_secret_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{PASSWORD.replace(chr(39), '')}'"
        )
        connection.exec_driver_sql(f"ALTER DATABASE {url.database} OWNER TO {role}")
        connection.exec_driver_sql(f"ALTER SCHEMA public OWNER TO {role}")
    secret = url.set(username=role, password=PASSWORD).render_as_string(hide_password=False)
    assert quote(PASSWORD, safe="") in secret
    yield project, secret
    with admin.connect() as connection:
        connection.exec_driver_sql(f"ALTER DATABASE {url.database} OWNER TO postgres")
        connection.exec_driver_sql("ALTER SCHEMA public OWNER TO pg_database_owner")
        connection.exec_driver_sql(f"REASSIGN OWNED BY {role} TO postgres")
        connection.exec_driver_sql(f"DROP OWNED BY {role}")
        connection.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def test_no_command_shows_the_password(role_url: tuple[Project, str], tmp_path: Path) -> None:
    project, secret = role_url
    write_audited_history(project)
    project.write("migrations/0004_view.py", VIEW)
    unreachable = secret.replace(f":{make_url(secret).port}/", ":1/")
    runs: list[tuple[tuple[str, ...], dict[str, str], set[int]]] = [
        (("-v", "3", "showmigrations"), {}, {0}),
        (("migrate", "--plan"), {}, {0}),
        (("migrate", "--check"), {}, {1}),
        (("migrate", "--sql"), {}, {0}),
        (("-v", "3", "migrate"), {}, {0}),
        (("-v", "2", "showmigrations", "--json"), {}, {0}),
        (("makemigrations", "--check"), {}, {0}),
        (("-v", "3", "makemigrations", "--dry-run"), {}, {0}),
        (("-v", "3", "check", "--database"), {}, {0}),
        (("migrate", "0002"), {}, {3}),  # data loss refused: book has a row
        (("migrate", "0002", "--allow-data-loss"), {}, {0}),
        (("migrate", "0003", "--fake"), {}, {0}),
        (("migrate", "0002", "--fake"), {}, {0}),
        (("migrate",), {}, {0}),
        (("migrate", "0009"), {}, {3}),
        (("--traceback", "migrate", "0009"), {}, {3}),
        (("-v", "3", "showmigrations"), {"DATABASE_URL": unreachable}, {3}),
        (("--traceback", "migrate"), {"DATABASE_URL": unreachable}, {3}),
        (("makemigrations",), {"DATABASE_URL": unreachable}, {0, 3}),
        (("check", "--database"), {"DATABASE_URL": unreachable}, {1}),
        (("migrate",), {"DATABASE_URL": secret.replace("://", ":/")}, {3}),
        (("migrate",), {"DATABASE_URL": secret.replace("+psycopg", "+asyncpg")}, {0}),  # async
        (("migrate",), {"DATABASE_URL": secret + "?nonsense=1"}, {3}),
        (("migrate", "--fake-initial"), {}, {0}),
        (("dbshell", "--", "-c", "SELECT 1"), {}, {0}),
        (("shell", "-c", "print(1)"), {}, {0}),
        (("inspectdb",), {}, {0}),
        (("inspectdb", "-o", "shop/inspected.py"), {}, {0}),
        (("dbshell",), {"DATABASE_URL": unreachable, "PATH": ""}, {3}),  # no client found
    ]
    outputs: list[str] = []

    def run(
        args: tuple[str, ...], extra: dict[str, str], codes: set[int], cwd: Path | None = None
    ) -> None:
        env = {**os.environ, "DATABASE_URL": secret, "PYTHONDONTWRITEBYTECODE": "1", **extra}
        done = subprocess.run(
            [str(BIN / "manage"), "--no-color", *args],
            cwd=cwd or project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in codes, (args, done.stdout, done.stderr)
        outputs.append(done.stdout + done.stderr)

    # init refuses to write a URL that holds a password. Outside the watch: the password is
    # in that run's own argv, where the user put it.
    fresh = tmp_path / "fresh"
    (fresh / "app").mkdir(parents=True)
    (fresh / "app" / "__init__.py").write_text("")
    (fresh / "app" / "db.py").write_text(
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
    )
    run(("init", "--database-url", secret, "--no-input"), {}, {3}, cwd=fresh)
    with ArgvWatch() as watch:
        for args, extra, codes in runs[:9]:
            run(args, extra, codes)
        engine = sa.create_engine(project.database_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO author (id, name) VALUES (1, 'Ann')")
            connection.exec_driver_sql("INSERT INTO book (id, title, author_id) VALUES (1, 'A', 1)")
        engine.dispose()
        for args, extra, codes in runs[9:]:
            run(args, extra, codes)
        # A failing migration, a lock timeout, and a model change found by --check.
        project.write("migrations/0005_broken.py", BROKEN)
        run(("--traceback", "migrate"), {}, {3})
        (project.root / "migrations/0005_broken.py").unlink()
        with holding_the_lock(project):
            run(("migrate", "0002", "--lock-timeout", "0.2", "--allow-data-loss"), {}, {3})
        project.edit(
            "shop/models.py",
            "    title: Mapped[str]",
            ISBN,  # nullable: the rows in book need no value for it
        )
        run(("makemigrations", "--check"), {}, {1})
        run(("makemigrations",), {}, {0})
        run(("migrate",), {}, {0})
        run(("init", "--no-input"), {}, {0}, cwd=fresh)

    assert watch.scans > 0 and len(watch.seen) >= 10, "the watch saw the runs"
    assert watch.found == [], "no process argument list holds the password"
    together = "\n".join(outputs)
    assert "***" in together, "the masked URL is shown where the URL is"
    for form in FORMS:
        assert form not in together
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith("_add_book_isbn.py") for p in written)
    for path in written:
        data = path.read_bytes()
        for form in FORMS:
            assert form.encode() not in data, path


LEAKY = f'''
"""leaky"""

from alembic import op

revision = "0004_leaky"
down_revision = "0003_book"


def upgrade() -> None:
    op.execute("SELECT PASSWORD('{PASSWORD}')")
    op.execute("ALTER USER no_such_user_here IDENTIFIED BY '{PASSWORD}'")


def downgrade() -> None:
    pass
'''


def test_mariadb_password_shows_nowhere(
    make_project: Callable[[str], Project], tmp_path: Path
) -> None:
    """A MariaDB user with a password: dbshell's option file goes, and a failed migration's
    statements are shown with their passwords hidden."""
    project = make_project("mariadb")
    url = make_url(project.database_url)
    user = f"manage_secret_{os.getpid()}"
    admin = sa.create_engine(url)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{PASSWORD}'")
        connection.exec_driver_sql(f"GRANT ALL ON {url.database}.* TO '{user}'@'%%'")
    secret = url.set(username=user, password=PASSWORD).render_as_string(hide_password=False)
    temp = tmp_path / "tmp"
    temp.mkdir()
    write_audited_history(project)
    project.write("migrations/0004_leaky.py", LEAKY)
    outputs = []
    try:
        with ArgvWatch() as watch:
            for args, code in (
                (("migrate", "0003"), 0),
                (("dbshell", "--", "-e", "SELECT 1"), 0),
                (("--traceback", "migrate"), 3),
            ):
                env = {**os.environ, "DATABASE_URL": secret, "TMPDIR": str(temp)}
                done = subprocess.run(
                    [str(BIN / "manage"), "--no-color", *args],
                    cwd=project.root,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == code, (args, done.stdout, done.stderr)
                outputs.append(done.stdout + done.stderr)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP USER '{user}'@'%%'")
        admin.dispose()

    assert watch.found == [], "no process argument list holds the password"
    assert "IDENTIFIED BY '***'" in outputs[2] and "PASSWORD('***')" in outputs[2], outputs[2]
    for form in FORMS:
        assert form not in "\n".join(outputs)
    assert list(temp.iterdir()) == [], "dbshell's option file is gone"
    # The user's own migration holds the password, and so does its compiled copy in manage's
    # private (0700) cache; nothing else may.
    for path in (
        p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("0004_leaky.")
    ):
        assert PASSWORD.encode() not in path.read_bytes(), path
