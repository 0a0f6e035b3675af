"""Database drivers: each one's connect-timeout argument, and manage's code on an asyncio driver.

manage's engine code is synchronous. On an asyncio driver (``postgresql+asyncpg``,
``sqlite+aiosqlite``, ``mysql+aiomysql``, ``mysql+asyncmy``, ``postgresql+psycopg_async``) it runs
the way Alembic's async ``env.py`` template runs migrations: on an event loop, inside
SQLAlchemy's ``greenlet_spawn`` (what ``AsyncConnection.run_sync`` does), where the synchronous
facade of an ``AsyncEngine`` (``create_async_engine(url).sync_engine``) drives the async driver.
A whole command runs there, so every connection it opens (the migrations', the lock's, the
shadow database's, the history table's) goes through the user's driver.

The two SQLAlchemy names used here that are not public API (``greenlet_spawn`` and
``in_greenlet`` of ``sqlalchemy.util.concurrency``, on 2.0 and 2.1 alike) are pinned by
tests/cli/test_async.py::test_sqlalchemy_names_used_for_async_drivers.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from manage.errors import SettingsError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from manage.core.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 5
ASYNC_EXTRA = "sqlalchemy-manage[async]"

# The argument of the driver's connect() that bounds the time a connection may take. Drivers not
# listed take libpq's / the MySQL protocol's ``connect_timeout`` (psycopg, psycopg2,
# psycopg_async, PyMySQL, mysqlclient, aiomysql, asyncmy, mariadb-connector).
_TIMEOUT_ARGUMENT = {
    "asyncpg": "timeout",
    "pg8000": "timeout",
    "mysqlconnector": "connection_timeout",
}
_SERVER_BACKENDS = ("postgresql", "mysql", "mariadb")
_ASYNC_PACKAGE = {
    "asyncpg": "asyncpg",
    "aiosqlite": "aiosqlite",
    "aiomysql": "aiomysql",
    "asyncmy": "asyncmy",
    "psycopg_async": "psycopg",
    "pysqlite_async": "aiosqlite",
}


def connect_args(url: URL) -> dict[str, Any]:
    """The connect() arguments manage adds: a short connect timeout on a server, under the name
    the URL's driver gives it, unless the URL sets that argument itself."""
    if url.get_backend_name() not in _SERVER_BACKENDS:
        return {}
    name = _TIMEOUT_ARGUMENT.get(url.get_driver_name(), "connect_timeout")
    if name in url.query:
        return {}
    return {name: CONNECT_TIMEOUT_SECONDS}


def connect_errors() -> tuple[type[BaseException], ...]:
    """What a failed connect raises: the DBAPI's error, or, from an asyncio driver that does not
    translate it (asyncpg), the socket's ``OSError`` or the loop's timeout."""
    import sys

    from sqlalchemy.exc import DBAPIError

    found: tuple[type[BaseException], ...] = (DBAPIError, OSError)
    if "asyncio" in sys.modules:  # only an asyncio driver raises its TimeoutError
        found += (sys.modules["asyncio"].TimeoutError,)
    return found


def is_async_url(url: str | URL | None) -> bool:
    """Whether ``url`` names an asyncio driver (its SQLAlchemy dialect is an async one)."""
    if not url:
        return False
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        dialect = make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError):
        return False
    return bool(getattr(dialect, "is_async", False))


def require_async_support(url: URL) -> None:
    """Refuse an async URL when greenlet or the driver is not installed, naming the extra.

    Raises:
        SettingsError: greenlet or the driver's package cannot be imported.
    """
    driver = url.get_driver_name()
    package = _ASYNC_PACKAGE.get(driver, driver)
    for needed in ("greenlet", package):
        if not _importable(needed):
            raise SettingsError(
                f"The database URL uses the asyncio driver {url.drivername}://, which needs the "
                f"'{needed}' package, and it is not installed. Install it: "
                f"pip install '{ASYNC_EXTRA}' (greenlet, asyncpg, aiosqlite, aiomysql)."
            )


def require_drivers(urls: Iterable[str | None]) -> bool:
    """Whether one of ``urls`` names an asyncio driver; if so, that its packages are installed.

    Raises:
        SettingsError: greenlet or an async driver of ``urls`` is not installed.
    """
    from sqlalchemy.engine import make_url

    found = False
    for url in urls:
        if is_async_url(url):
            require_async_support(make_url(url))  # type: ignore[arg-type]
            found = True
    return found


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def _in_driver_context() -> bool:
    """Whether this code already runs inside ``greenlet_spawn`` (ours, or the user's
    ``run_sync``), where the sync facade of an async driver works."""
    if importlib.util.find_spec("greenlet") is None:
        return False
    from sqlalchemy.util.concurrency import in_greenlet

    return bool(in_greenlet())


def run_on_driver(
    urls: Iterable[str | None], function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``function(*args, **kwargs)``, on an event loop inside ``greenlet_spawn`` when one of
    ``urls`` names an asyncio driver; as a plain call otherwise.

    Called from a running event loop (``call_command`` in an ``async def``), it runs on a thread
    of its own, as the loop must not be blocked by a nested one.

    Raises:
        SettingsError: an async URL whose driver or greenlet is not installed.
    """
    if not require_drivers(urls) or _in_driver_context():
        return function(*args, **kwargs)
    import asyncio

    from sqlalchemy.util.concurrency import greenlet_spawn

    async def main() -> T:
        return await greenlet_spawn(functools.partial(function, *args, **kwargs))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="manage") as pool:
        return pool.submit(asyncio.run, main()).result()


def settings_urls(settings: Settings) -> tuple[str | None, ...]:
    """Every database URL a command of ``settings`` may connect to."""
    return (settings.database_url, settings.shadow_database_url)


def on_driver(function: Callable[..., T]) -> Callable[..., T]:
    """Decorate a command taking Settings first: run it through :func:`run_on_driver`."""

    @functools.wraps(function)
    def run(settings: Settings, *args: Any, **kwargs: Any) -> T:
        return run_on_driver(settings_urls(settings), function, settings, *args, **kwargs)

    return run
