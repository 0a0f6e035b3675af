"""The ``manage`` console script.

The commit hook runs ``manage makemigrations --check`` on every commit, so that exact command is
answered here when it can be, before the CLI (Typer, and the pydantic it coerces options with) is
loaded: from the remembered answer when nothing it depends on changed (no SQLAlchemy, no models),
or, when only the models' source changed, by importing the models and finding every table known to
match the unchanged migration history (no Alembic). Anything else goes to :mod:`manage.cli`.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

# When this process started, and DATABASE_URL as it found it (before a .env is read): what a
# remembered check answer is stamped against.
STARTED_NS = time.time_ns()
DATABASE_URL_AT_START = os.environ.get("DATABASE_URL")

NO_CHANGES = "No changes detected\n"


def terminated(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so a temporary shadow database is dropped on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point of the ``manage`` console script."""
    signal.signal(signal.SIGTERM, terminated)
    from manage import quick

    quick.main(sys.argv[1:])  # plain showmigrations, migrate at head: answers and exits, or returns
    if sys.argv[1:] == ["makemigrations", "--check"]:
        from manage.core.answers import remembered

        answer = remembered(Path.cwd())
        if answer is not None:
            sys.stdout.write(answer.output)
            sys.exit(answer.exit_code)
        if _known_in_sync():
            sys.stdout.write(NO_CHANGES)
            sys.exit(0)
    from manage.cli import main as cli_main

    cli_main()


def _known_in_sync() -> bool:
    """True when the models match the migration history by the caches alone; remembers that
    answer. False when the full check must run (it also reports any error found here)."""
    from manage.core import insync
    from manage.core.answers import Answer, remember
    from manage.core.discovery import load_metadata
    from manage.core.settings import load_settings
    from manage.errors import ManageError

    try:
        settings = load_settings()
        index = insync.unchanged_history(settings)
        if index is None or not insync.known_in_sync(settings, load_metadata(settings), index):
            return False
    except ManageError:
        return False
    remember(
        settings.project_root,
        settings.migrations_dir,
        Answer(NO_CHANGES, 0),
        started_ns=STARTED_NS,
        database_url=DATABASE_URL_AT_START,
    )
    return True
