"""Start several ``manage`` runs at the same instant: fork them from one process that has
imported the libraries already, so no run is ahead by its import time (a race between runs
that start within a few milliseconds of each other shows up in a few rounds, not hundreds).

Usage: ``python twinrun.py JSON`` with a list of ``{"cwd", "env", "argv", "log"}``; each run's
stdout and stderr go to its ``log`` file; prints the exit codes as a JSON list.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

import alembic.autogenerate  # noqa: F401
import sqlalchemy.orm  # noqa: F401
from forkrun import run_manage  # this folder is on sys.path: run as a script


def main() -> None:
    requests = json.loads(sys.argv[1])
    for name in ("pymysql", "psycopg"):  # the drivers too, when installed
        with contextlib.suppress(ImportError):
            __import__(name)
    pids = [_fork(request) for request in requests]
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    print(json.dumps(codes))


def _fork(request: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        fd = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except BaseException:
        os._exit(70)  # never back into the parent's loop
    run_manage(request, fd, fresh_environment=False)


if __name__ == "__main__":
    main()
