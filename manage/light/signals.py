"""SIGTERM as an exception: the process unwinds like Ctrl-C (temporary shadow databases are
dropped, a running migration says what it left), then exits 128 + the signal number."""

from __future__ import annotations


class Terminated(SystemExit):
    """Raised by the SIGTERM handler. A ``SystemExit``, so left alone it exits 143; code that
    turns a project's own ``sys.exit()`` into an error lets it through."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def terminated(signum: int, _frame: object) -> None:
    """The SIGTERM handler."""
    raise Terminated(signum)
