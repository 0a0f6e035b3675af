"""Issue 12 point 17: dbshell's MariaDB option file (it holds the password) lives in a private
folder and goes on SIGHUP (a closed terminal) and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import BIN, Project, server_url


def _folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("manage-dbshell-*"))


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_option_file_removed_on_signal(make_project: object, signum: int) -> None:
    project: Project = make_project("mariadb")  # type: ignore[operator]
    base = make_url(server_url("mariadb"))
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    user = f"s2_{os.getpid()}_{signum}"
    with engine.connect() as connection:
        connection.exec_driver_sql(
            f"CREATE USER IF NOT EXISTS '{user}'@'%%' IDENTIFIED BY 'Pw_s3cret'"
        )
    try:
        url = base.set(username=user, password="Pw_s3cret", database=None)
        before = _folders()
        child = subprocess.Popen(
            [str(BIN / "manage"), "dbshell", "--", "-e", "SELECT SLEEP(30)"],
            cwd=project.root,
            env={**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while not (_folders() - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        (folder,) = _folders() - before
        assert folder.stat().st_mode & 0o777 == 0o700
        assert "Pw_s3cret" in (folder / "client.cnf").read_text()
        time.sleep(0.5)  # the client is running
        child.send_signal(signum)
        child.communicate(timeout=20)
        assert child.returncode == 128 + signum
        assert not folder.exists()
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
        engine.dispose()


def test_folder_of_a_killed_run_is_removed_by_the_next(make_project: object) -> None:
    project: Project = make_project("mariadb")  # type: ignore[operator]
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path(tempfile.mkdtemp(prefix=f"manage-dbshell-{dead.pid}-"))
    (stale / "client.cnf").write_text("[client]\npassword=x\n")
    base = make_url(server_url("mariadb"))
    url = base.set(password="anything").render_as_string(hide_password=False)
    project.subprocess("dbshell", "--", "-e", "SELECT 1", env={"DATABASE_URL": url})
    assert not stale.exists()
