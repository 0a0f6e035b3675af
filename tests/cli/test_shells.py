"""manage shell (a Python shell with the models) and manage dbshell (the database's own client)."""

from __future__ import annotations

import importlib.util
import os
import pty
import secrets
import select
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import BIN, Project, server_url

COUNT = "session.add(Author(name='Ada')); session.commit()\n"
COUNT += "print(sorted(k for k in globals() if not k.startswith('_')))\n"
COUNT += "print(session.scalar(select(func.count()).select_from(Author)))"


def test_shell_c_runs_code_with_models_engine_session_and_settings(project: Project) -> None:
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0

    result = project.run("shell", "-c", COUNT)

    assert result.exit_code == 0, result.output
    names, count = result.stdout.splitlines()
    assert names == (
        "['Author', 'Book', 'engine', 'func', 'metadata', 'select', 'session', 'settings']"
    )
    assert count == "1"


def test_shell_reads_statements_from_a_plain_repl(sqlite_project: Project) -> None:
    result = sqlite_project.subprocess_input(
        ["shell", "-i", "python"], "print(Author.__tablename__, settings.version_table)\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == ">>> author alembic_version\n>>> "
    assert result.stderr.startswith("manage shell: Author, Book, engine, func, metadata, select")


def test_shell_c_failure_shows_the_traceback_and_exits_1(sqlite_project: Project) -> None:
    result = sqlite_project.run("shell", "-c", "Author.nope")

    assert result.exit_code == 1
    assert result.stderr == (
        "Traceback (most recent call last):\n"
        '  File "<manage shell -c>", line 1, in <module>\n'
        "AttributeError: type object 'Author' has no attribute 'nope'\n"
    )


def test_dbshell_opens_sqlite3_on_the_project_database(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    assert sqlite_project.run("migrate").exit_code == 0

    result = sqlite_project.subprocess_input(
        ["dbshell"], "SELECT name FROM sqlite_master WHERE name = 'author';\n"
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "author\n", "")


def test_dbshell_passes_parameters_and_the_client_exit_code(sqlite_project: Project) -> None:
    result = sqlite_project.subprocess_input(["dbshell", "--", "-bail"], "SELECT nope;\n")

    assert result.returncode == 1
    assert "no such column: nope" in result.stderr


# Run inside the client: print its own argv (one per line) and what it was given.
SHOW_ARGV = "\\! tr '\\0' '\\n' < /proc/$PPID/cmdline\n"


def test_dbshell_psql_gets_the_password_from_the_environment(
    fresh_database: object, tmp_path: Path, sqlite_project: Project
) -> None:
    url = make_url(fresh_database("postgresql", tmp_path))  # type: ignore[operator]
    password = f"pw{secrets.token_hex(6)}"
    with_password = url.set(password=password).render_as_string(hide_password=False)

    result = sqlite_project.subprocess_input(
        ["--database-url", with_password, "dbshell"],
        f"SELECT current_database();\n{SHOW_ARGV}\\! echo PGPASSWORD=$PGPASSWORD\n",
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].strip() == url.database
    argv = lines[lines.index("(1 row)") + 2 : -1]
    assert Path(argv[0]).name == "psql"  # /usr/bin/psql execs the versioned one
    assert argv[1:] == ["-h", url.host, "-p", str(url.port), "-U", url.username, url.database]
    assert lines[-1] == f"PGPASSWORD={password}"


@pytest.fixture
def mariadb_user(fresh_database: object, tmp_path: Path) -> object:
    """A MariaDB database and a user with a password that owns it."""
    url = make_url(fresh_database("mariadb", tmp_path))  # type: ignore[operator]
    user, password = f"mt_{secrets.token_hex(4)}", f"p'w\"\\\n{secrets.token_hex(6)}"
    admin = sa.create_engine(make_url(server_url("mariadb")), poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        connection.exec_driver_sql(f"GRANT ALL ON {url.database}.* TO '{user}'@'%%'")
    yield url.set(username=user, password=password)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP USER '{user}'@'%%'")
    admin.dispose()


def test_dbshell_mariadb_reads_the_password_from_a_private_option_file(
    mariadb_user: sa.URL, sqlite_project: Project
) -> None:
    url = mariadb_user
    option_file = "$(tr '\\0' '\\n' < /proc/$PPID/cmdline | sed -n 's/^--defaults-extra-file=//p')"

    result = sqlite_project.subprocess_input(
        ["--database-url", url.render_as_string(hide_password=False), "dbshell"],
        f"SELECT CURRENT_USER() AS me;\n{SHOW_ARGV}\\! stat -c 'mode=%a' {option_file}\n",
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # the client prints its query results last
    assert lines[-3:] == ["mode=600", "me", f"{url.username}@%"]
    argv = lines[:-3]
    assert argv[0] == shutil.which("mariadb")
    assert argv[1].startswith("--defaults-extra-file=")
    assert argv[2:] == ["-h", url.host, "-P", str(url.port), "-u", url.username, url.database]
    assert url.password not in result.stdout
    assert not Path(argv[1].split("=", 1)[1]).exists()  # deleted after the client ended


def test_dbshell_names_a_missing_client_and_how_to_install_it(
    sqlite_project: Project, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()

    result = sqlite_project.subprocess("dbshell", env={"PATH": str(empty)})

    assert result.returncode == 3
    assert result.stderr == (
        "Error: The sqlite client program 'sqlite3' is not installed or not on PATH. "
        "Install the SQLite command-line shell (e.g. 'apt install sqlite3' or "
        "'brew install sqlite').\n"
    )


def test_dbshell_is_available_from_python(sqlite_project: Project) -> None:
    import manage

    result = manage.call_command("dbshell", ["-cmd", ".quit"])

    assert result.program == shutil.which("sqlite3")
    assert result.argv[-2:] == ("-cmd", ".quit")
    assert result.exit_code == 0
    assert os.path.basename(result.argv[1]) == "db.sqlite3"


def test_shell_rejects_an_unknown_interface_before_loading_anything(tmp_path: Path) -> None:
    outside = Project(tmp_path, "", "sqlite")  # no project: nothing could be loaded

    bogus = outside.run("shell", "-i", "bogus")

    assert bogus.exit_code == 2
    assert "'bogus' is not one of ipython, python." in " ".join(
        bogus.stderr.replace("│", " ").split()
    )


def test_shell_with_ipython_missing_says_so(sqlite_project: Project) -> None:
    if importlib.util.find_spec("IPython") is not None:
        pytest.skip("IPython is installed here")

    result = sqlite_project.run("shell", "-i", "ipython")

    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        "Error: IPython is not installed. Install it (pip install ipython), "
        "or use the plain Python shell with -i python.\n"
    )


def test_shell_finds_models_by_their_registry_wherever_their_module_lives(
    sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model on the project's Base from a package outside the project folder, and one in a
    # sibling folder whose name starts like the project's.
    extra = "from sqlalchemy.orm import Mapped, mapped_column\n\nfrom shop.models import Base\n\n\n"
    extra += "class {name}(Base):\n    __tablename__ = '{table}'\n"
    extra += "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    for folder, name, table in (("site", "Coupon", "coupon"), ("project2", "Voucher", "voucher")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / f"{table}_models.py").write_text(extra.format(name=name, table=table))
        monkeypatch.syspath_prepend(str(tmp_path / folder))
    sqlite_project.edit(
        "pyproject.toml", "[tool.manage]\n", '[tool.manage]\nimport = ["coupon_models"]\n'
    )

    result = sqlite_project.run(
        "shell", "-c", "print(sorted(k for k in globals() if k[0].isupper()))"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "['Author', 'Book', 'Coupon']\n"  # not Voucher: never imported


def test_call_command_runs_the_shell(
    sqlite_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    import manage

    manage.call_command("shell", command="print(Author.__tablename__)")

    assert capsys.readouterr().out == "author\n"
    with pytest.raises(ZeroDivisionError):
        manage.call_command("shell", command="1 / 0")
    with pytest.raises(manage.ManageError, match="Unknown shell interface 'bogus'"):
        manage.call_command("shell", interface="bogus")


def test_ctrl_c_in_dbshell_goes_to_the_client(sqlite_project: Project) -> None:
    pid, master = pty.fork()
    if pid == 0:  # the child: manage dbshell on a terminal of its own
        os.chdir(sqlite_project.root)
        os.execv(str(BIN / "manage"), [str(BIN / "manage"), "dbshell"])
    try:
        assert b"sqlite> " in _read_until(master, b"sqlite> ")
        os.write(master, b"\x03")  # Ctrl-C: SIGINT to manage and sqlite3 alike
        assert b"^C" in _read_until(master, b"^C")
        os.write(master, b"SELECT 6 * 7;\n.quit\n")
        seen = _read_until(master, b"42")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)

    assert b"42" in seen
    assert os.waitstatus_to_exitcode(status) == 0


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_dbshell_psql_reaches_a_unix_socket_from_the_url_query(
    fresh_database: object, tmp_path: Path, sqlite_project: Project
) -> None:
    url = make_url(fresh_database("postgresql", tmp_path))  # type: ignore[operator]
    if not Path("/var/run/postgresql").is_dir():
        pytest.skip("no PostgreSQL socket folder /var/run/postgresql here")
    on_socket = sa.URL.create(
        url.drivername, url.username, database=url.database, query={"host": "/var/run/postgresql"}
    )

    result = sqlite_project.subprocess_input(
        ["--database-url", on_socket.render_as_string(hide_password=False), "dbshell"],
        "\\pset tuples_only on\nSELECT current_database(), inet_server_addr() IS NULL;\n"
        "\\! echo PGHOST=$PGHOST\n",
        env={"PGHOST": "/nonexistent"},  # the URL's host wins over the inherited variable
    )

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines[-2:] == [f"{url.database} | t", "PGHOST=/var/run/postgresql"], result.stdout


def record(argv: Sequence[str], env: dict[str, str]) -> int:
    """A client that records what it was given (the option file is read while it exists)."""
    option_file = next((a.split("=", 1)[1] for a in argv if a.startswith("--defaults-")), None)
    record.seen = (list(argv), env, Path(option_file).read_text() if option_file else None)  # type: ignore[attr-defined]
    return 0


def test_dbshell_passes_the_url_query_to_each_client(sqlite_project: Project) -> None:
    from manage.commands import dbshell
    from manage.core.settings import load_settings

    settings = load_settings()
    postgresql = "postgresql+psycopg://u:secret@db/shop?sslmode=require&sslrootcert=/ca.pem"
    mysql = 'mysql+pymysql://u:se"c\\r\net@/shop?unix_socket=/run/mysqld.sock&ssl_ca=/ca.pem'

    pg = dbshell(replace(settings, database_url=postgresql), run=record)
    pg_argv, pg_env, _ = record.seen  # type: ignore[attr-defined]
    my = dbshell(replace(settings, database_url=mysql), run=record)
    my_argv, _, option_file = record.seen  # type: ignore[attr-defined]

    assert pg_argv[1:] == ["-h", "db", "-U", "u", "shop"]
    assert {k: pg_env[k] for k in pg.environment} == {
        "PGPASSWORD": "secret",
        "PGSSLMODE": "require",
        "PGSSLROOTCERT": "/ca.pem",
    }
    assert "secret" not in repr(pg) and "secret" not in str(asdict(pg))
    assert my_argv[2:] == ["-u", "u", "shop"] and "secret" not in " ".join(my_argv)
    assert my.environment == ()
    assert option_file == (
        '[client]\nsocket="/run/mysqld.sock"\nssl-ca="/ca.pem"\npassword="se\\"c\\\\r\\net"\n'
    )
