"""A process that forks a fresh child per request to run the ``manage`` console script's
``main()``: SQLAlchemy and Alembic are imported once here (never ``manage``, never the project),
so each child starts as the console script would, minus the libraries' import time.

Protocol: one JSON line per request on stdin, ``{"cwd", "env", "argv"}``; one JSON line back,
``{"code", "out"}`` (stdout then stderr).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, NoReturn

import alembic.autogenerate  # noqa: F401
import sqlalchemy
import sqlalchemy.orm  # noqa: F401


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out:
            pid = os.fork()
            if pid == 0:
                run_manage(request, out.fileno())
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        code = os.waitstatus_to_exitcode(status)
        sys.stdout.write(json.dumps({"code": code, "out": text}) + "\n")
        sys.stdout.flush()


def run_manage(request: dict[str, Any], fd: int, *, fresh_environment: bool = True) -> NoReturn:
    """In a forked child: run the console script's ``main()`` as ``request`` says (``cwd``,
    ``env``, ``argv``), its stdout and stderr into ``fd``, then exit with its code (70 when it
    never started, 71 on an uncaught exception). ``fresh_environment``: ``env`` replaces the
    environment rather than adding to it. Shared with ``twinrun.py``."""
    code = 70
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdin = open(os.devnull)  # noqa: SIM115
        os.chdir(str(request["cwd"]))
        if fresh_environment:
            os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["manage", *request["argv"]]
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        from manage.launcher import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 71
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
