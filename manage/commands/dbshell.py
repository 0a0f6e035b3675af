"""Open the database's own client (psql, mariadb/mysql, sqlite3), never with a password in argv."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sqlalchemy.engine import URL, make_url

from manage.core.settings import Settings
from manage.errors import DbShellError

_INSTALL = {
    "psql": "Install the PostgreSQL client (e.g. 'apt install postgresql-client' or "
    "'brew install libpq').",
    "mariadb": "Install the MariaDB or MySQL client (e.g. 'apt install mariadb-client' or "
    "'brew install mariadb').",
    "sqlite3": "Install the SQLite command-line shell (e.g. 'apt install sqlite3' or "
    "'brew install sqlite').",
}

# libpq connection parameters given in the URL's query, and the variable psql reads each from.
PG_ENVIRONMENT = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "client_encoding": "PGCLIENTENCODING",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
    "krbsrvname": "PGKRBSRVNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS",
}

# PyMySQL / mysqlclient query parameters, and the [client] option each becomes.
MYSQL_OPTIONS = {
    "unix_socket": "socket",
    "charset": "default-character-set",
    "ssl_ca": "ssl-ca",
    "ssl_cert": "ssl-cert",
    "ssl_key": "ssl-key",
    "ssl_capath": "ssl-capath",
    "ssl_cipher": "ssl-cipher",
}


_ASYNCPG_QUERY = {"ssl": "sslmode", "timeout": "connect_timeout"}
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class DbShellResult:
    """How the client program ran."""

    program: str
    argv: tuple[str, ...]
    exit_code: int
    environment: tuple[str, ...] = ()
    """The names of the variables set for the client (their values may hold a password)."""


def _run(argv: Sequence[str], env: dict[str, str]) -> int:
    return subprocess.call(list(argv), env=env)


def dbshell(
    settings: Settings,
    parameters: Sequence[str] = (),
    *,
    run: Callable[[Sequence[str], dict[str, str]], int] = _run,
) -> DbShellResult:
    """Run the command-line client of the project's database with ``parameters`` appended.

    Ctrl-C goes to the client (which cancels its query), not to ``manage``: like Django's
    dbshell, ``manage`` ignores SIGINT while the client runs.

    Raises:
        DbShellError: the client program is not installed, the dialect has no client, or the
            URL holds what an option file cannot carry.
    """
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    with _invocation(url, backend) as (program, argv, extra_env), _sigint_to_the_client():
        argv = [*argv, *parameters]
        exit_code = run(argv, {**os.environ, **extra_env})
        return DbShellResult(program, tuple(argv), exit_code, tuple(sorted(extra_env)))


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """A handler, not SIG_IGN: the client starts with the default disposition, as exec resets
    caught signals (an ignored one would stay ignored in the client)."""


@contextmanager
def _sigint_to_the_client() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, _ignore)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _query(url: URL) -> dict[str, str]:
    """The URL's query parameters, a repeated one joined with commas (libpq's multi-host)."""
    return {
        key: value if isinstance(value, str) else ",".join(value)
        for key, value in url.query.items()
    }


@contextmanager
def _invocation(url: URL, backend: str) -> Iterator[tuple[str, list[str], dict[str, str]]]:
    query = _query(url)
    if backend == "postgresql":
        program = _which("psql", backend)
        argv = [program]
        if url.get_driver_name() == "asyncpg":  # asyncpg's names for libpq's sslmode, timeout
            query = {_ASYNCPG_QUERY.get(k, k): v for k, v in query.items()}
            if query.get("sslmode") not in _SSLMODES:
                query.pop("sslmode", None)  # asyncpg's ssl=true: its default context
        env = {PG_ENVIRONMENT[k]: v for k, v in query.items() if k in PG_ENVIRONMENT}
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        if url.host:
            argv += ["-h", url.host]
        if url.port:
            argv += ["-p", str(url.port)]
        if url.username:
            argv += ["-U", url.username]
        argv += [url.database or "postgres"]
        yield program, argv, env
    elif backend in ("mysql", "mariadb"):
        program = _which("mariadb", backend, "mysql")
        options = {MYSQL_OPTIONS[k]: v for k, v in query.items() if k in MYSQL_OPTIONS}
        if url.password:
            options["password"] = str(url.password)
        with _option_file(options) as option_file:
            argv = [program]
            if option_file is not None:
                argv.append(f"--defaults-extra-file={option_file}")  # must come first
            if url.host:
                argv += ["-h", url.host]
            if url.port:
                argv += ["-P", str(url.port)]
            if url.username:
                argv += ["-u", url.username]
            if url.database:
                argv.append(url.database)
            yield program, argv, {}
    elif backend == "sqlite":
        program = _which("sqlite3", backend)
        argv = [program]
        if query.get("mode") == "ro":
            argv.append("-readonly")
        yield program, [*argv, url.database or ":memory:"], {}
    else:
        raise DbShellError(
            f"manage dbshell does not know the client program of {backend} databases. "
            "Use the database's own client with the settings from 'manage -v 2 check'."
        )


def _which(name: str, backend: str, *alternatives: str) -> str:
    for candidate in (name, *alternatives):
        found = shutil.which(candidate)
        if found:
            return found
    names = " or ".join(f"'{n}'" for n in (name, *alternatives))
    raise DbShellError(
        f"The {backend} client program {names} is not installed or not on PATH. {_INSTALL[name]}"
    )


# The escapes MySQL and MariaDB read in a quoted option value.
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def option_file_text(options: Mapping[str, str]) -> str:
    """A ``[client]`` section with each value quoted and escaped (newlines included).

    Raises:
        DbShellError: a value holds a NUL character, which no option file can carry.
    """
    lines = ["[client]"]
    for name, value in options.items():
        if "\0" in value:
            raise DbShellError(
                f"The {name} in the database URL holds a NUL character, which the MariaDB/MySQL "
                "client cannot read from an option file. Change it."
            )
        lines.append(f'{name}="{value.translate(_ESCAPES)}"')
    return "\n".join(lines) + "\n"


OPTION_FOLDER_PREFIX = "manage-dbshell-"


@contextmanager
def _option_file(options: Mapping[str, str]) -> Iterator[Path | None]:
    """A MySQL option file holding ``options``, in a folder only the user may enter (0700),
    removed after the client exits and on SIGHUP/SIGTERM/SIGINT. A folder left by a killed
    (SIGKILL) run is removed by the next run (its process is gone) or by the OS's tmp cleaning."""
    if not options:
        yield None
        return
    text = option_file_text(options)
    _remove_stale_option_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{OPTION_FOLDER_PREFIX}{os.getpid()}-"))  # 0700
    try:
        with _signals_unwind():
            path = folder / "client.cnf"
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_option_folders() -> None:
    """Remove this user's option folders whose ``manage dbshell`` process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{OPTION_FOLDER_PREFIX}*-*"):
        try:
            pid = int(folder.name[len(OPTION_FOLDER_PREFIX) :].split("-")[0])
            if folder.lstat().st_uid != os.getuid() or not folder.is_dir() or folder.is_symlink():
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):
            continue


def _unwind(signum: int, _frame: FrameType | None) -> None:
    from manage.light.signals import Terminated

    raise Terminated(signum)  # a SystemExit the error boundary lets through: exits 128 + signum


@contextmanager
def _signals_unwind() -> Iterator[None]:
    """SIGHUP (a closed terminal) and SIGTERM unwind, so the option file is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _unwind) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
