"""Issue 12 point 15: shadow databases left by a killed run are dropped by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from manage.core import database
from manage.core.database import shadow_database
from tests.conftest import _admin_engine, server_url


def _shadows(engine: sa.Engine, backend: str) -> set[str]:
    with engine.connect() as connection:
        if backend == "postgresql":
            rows = connection.exec_driver_sql("SELECT datname FROM pg_database")
        else:
            rows = connection.exec_driver_sql("SHOW DATABASES")
        return {row[0] for row in rows if row[0].startswith(database.SHADOW_PREFIX)}


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_shadow_of_a_sigkilled_run_is_dropped_by_the_next(dialect: str) -> None:
    url = server_url(dialect)
    engine = _admin_engine(url)
    # A real run, killed with SIGKILL while its shadow database exists.
    code = (
        "import sys, time\n"
        "from manage.core.database import shadow_database\n"
        f"with shadow_database({url!r}) as s:\n"
        "    print(s.url.rsplit('/', 1)[-1], flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    left = child.stdout.readline().strip().split("?")[0]
    assert left in _shadows(engine, dialect)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    live = database.shadow_name()  # this process's own: alive, not a day old
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {live}")
    try:
        with shadow_database(url) as shadow:
            assert left not in _shadows(engine, dialect)
            assert live in _shadows(engine, dialect)
            mine = shadow.url.rsplit("/", 1)[-1].split("?")[0]
        assert mine not in _shadows(engine, dialect)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {live}")
        engine.dispose()


def test_names_tell_stale_from_live() -> None:
    assert not database.is_stale_shadow(database.shadow_name())
    day_old = database.shadow_name().replace(
        f"_t{int(time.time())}", f"_t{int(time.time()) - 2 * 24 * 3600}"
    )
    assert database.is_stale_shadow(day_old)
    assert not database.is_stale_shadow("manage_shadow_0123456789ab")  # an old name: kept
    assert not database.is_stale_shadow("shop")
