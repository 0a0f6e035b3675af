"""The ``manage`` console script.

The commit hook runs ``manage makemigrations --check`` on every commit, so that exact command is
answered here when it can be, before the CLI (Typer, and the pydantic it coerces options with) is
loaded: from the remembered answer when nothing it depends on changed (no SQLAlchemy, no models);
when the migration history is unchanged since an earlier check, by importing the models and
finding every table known to match it (no Alembic), or else by comparing only the other tables
with the cached replay of the history. Anything else goes to :mod:`manage.cli`, which prints the
same lines (:func:`check_lines`).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manage.commands.makemigrations import MakeMigrationsResult
    from manage.core.answers import Answer

# When this process started, and DATABASE_URL as it found it (before a .env is read): what a
# remembered check answer is stamped against.
STARTED_NS = time.time_ns()
DATABASE_URL_AT_START = os.environ.get("DATABASE_URL")

NO_CHANGES = "No changes detected\n"
PENDING = "Model changes without a migration:"


def terminated(signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so a temporary shadow database is dropped on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point of the ``manage`` console script."""
    signal.signal(signal.SIGTERM, terminated)
    if sys.argv[1:] == ["makemigrations", "--check"]:
        from manage.core.answers import remembered

        answer = remembered(Path.cwd()) or _check_with_caches()
        if answer is not None:
            _write(answer.output)
            sys.exit(answer.exit_code)
    from manage.cli import main as cli_main

    cli_main()


def check_lines(result: MakeMigrationsResult, project_root: Path) -> list[str]:
    """What ``makemigrations --check`` prints for ``result``: the first line is a heading."""
    if result.path is None:
        return ["No changes detected"]
    try:
        path = str(result.path.relative_to(project_root))
    except ValueError:
        path = str(result.path)
    return [
        PENDING,
        *(f"    {operation}" for operation in result.operations),
        f"Run 'manage makemigrations' to write {path}.",
    ]


def _write(output: str) -> None:
    """``output`` as the CLI prints it: its heading in colour on a terminal."""
    if output.startswith(PENDING + "\n") and sys.stdout.isatty():
        output = f"\x1b[36m\x1b[1m{PENDING}\x1b[0m" + output[len(PENDING) :]
    sys.stdout.write(output)


def _check_with_caches() -> Answer | None:
    """The check's answer for a migration history unchanged since an earlier check, from the
    caches: every table known to match (no Alembic), or only the others compared with the cached
    replay. Remembers it. None when the full check must run (it also reports any error found
    here)."""
    from manage.core import insync
    from manage.core.answers import Answer, remember
    from manage.core.discovery import load_metadata
    from manage.core.settings import load_settings
    from manage.errors import ManageError

    try:
        settings = load_settings()
        index = insync.unchanged_history(settings)
        if index is None:
            return None
        metadata = load_metadata(settings)
        models = insync.model_fingerprints(settings, metadata)
        if insync.known_in_sync(settings, metadata, index, models=models):
            answer = Answer(NO_CHANGES, 0)
        else:
            from manage.commands.makemigrations import check_from_cache

            result = check_from_cache(settings, None, metadata=metadata, models=models)
            if result is None:
                return None
            lines = check_lines(result, settings.project_root)
            answer = Answer("".join(f"{line}\n" for line in lines), 1 if result.operations else 0)
    except ManageError:
        return None
    remember(
        settings.project_root,
        settings.migrations_dir,
        answer,
        started_ns=STARTED_NS,
        database_url=DATABASE_URL_AT_START,
    )
    return answer
