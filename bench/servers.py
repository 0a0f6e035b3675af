"""Uniquely named databases on a PostgreSQL or MariaDB server, for the benchmark scripts."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url


def shown(url: str | URL) -> str:
    """``url`` as it may be printed: the password masked."""
    return make_url(url).render_as_string(hide_password=True)


def admin_engine(url: str) -> sa.Engine:
    """An autocommit engine on the server of ``url``: PostgreSQL's ``postgres`` database,
    MariaDB's no database (``URL.set`` would keep a database it is given None for)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        server = parsed.set(database="postgres")
    else:
        server = parsed._replace(database=None)
    return sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def named(url: str, database: str) -> str:
    """``url`` with another database name, password kept (print it only through :func:`shown`)."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _listed(connection: sa.Connection, prefix: str) -> list[str]:
    if not prefix.replace("_", "").isalnum():
        raise ValueError(f"{prefix!r} is not a plain database name prefix")
    listing = (
        "SELECT datname FROM pg_database WHERE datname LIKE :pattern"
        if connection.dialect.name == "postgresql"
        else "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :pattern"
    )
    pattern = prefix.replace("_", "\\_") + "%"
    rows = connection.execute(sa.text(listing), {"pattern": pattern}).scalars()
    return sorted(str(name) for name in rows)


def databases(url: str, prefix: str) -> list[str]:
    """The databases on the server of ``url`` whose names start with ``prefix`` (letters,
    digits and underscores)."""
    engine = admin_engine(url)
    try:
        with engine.connect() as connection:
            return _listed(connection, prefix)
    finally:
        engine.dispose()


def drop_databases(url: str, prefix: str) -> list[str]:
    """Drop every database on the server of ``url`` whose name starts with ``prefix``; returns
    their names."""
    engine = admin_engine(url)
    force = " WITH (FORCE)" if engine.dialect.name == "postgresql" else ""
    try:
        with engine.connect() as connection:
            names = _listed(connection, prefix)
            for name in names:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
    finally:
        engine.dispose()
    return names


@contextmanager
def server_database(url: str, prefix: str = "bench") -> Iterator[str]:
    """A new database ``<prefix>_<random>`` on the server of ``url`` (PostgreSQL or MariaDB),
    dropped afterwards; yields its URL.

    The URL keeps the password, because the tools given it must connect: print it only
    through :func:`shown`.
    """
    name = f"{prefix}_{secrets.token_hex(5)}"
    engine = admin_engine(url)
    force = " WITH (FORCE)" if engine.dialect.name == "postgresql" else ""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            yield named(url, name)
        finally:
            with engine.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
    finally:
        engine.dispose()
