"""The ``manage`` console script.

The commit hook runs ``manage makemigrations --check`` on every commit, so that exact command is
answered here when it can be, before the CLI (Typer, and the pydantic it coerces options with) is
loaded: from the remembered answer when nothing it depends on changed (no SQLAlchemy, no models);
when the migration history is unchanged since an earlier check, by importing the models and
finding every table known to match it (no Alembic), or else by comparing only the other tables
with the cached replay of the history. Anything else goes to :mod:`manage.cli`, which prints the
same lines (:func:`manage.light.render.check_lines`).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from manage.light.render import NO_CHANGES, PENDING, check_lines
from manage.light.start import DATABASE_URL_AT_START, STARTED_NS
from manage.registry import named_in

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from manage.core.answers import Answer
    from manage.errors import ManageError


def terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so a temporary shadow database is dropped on the way out."""
    from manage.light.signals import terminated as raise_terminated

    raise_terminated(signum, frame)


def main() -> None:
    """Entry point of the ``manage`` console script."""
    signal.signal(signal.SIGTERM, terminated)
    args = sys.argv[1:]
    builtin = named_in(args)
    if builtin is not None:
        fast = builtin.load_fast()
        if fast is not None:
            fast(args)  # prints the answer and exits, or returns having printed nothing
        if builtin.alembic:
            _without_pygments()  # project commands and the shell run the project's code: not there
    from manage.cli import main as cli_main

    cli_main()


def answer_check(args: Sequence[str]) -> None:
    """The fast answer of ``manage makemigrations --check`` (``--no-color`` allowed anywhere):
    the remembered answer, or the caches'; returns when the full check must run."""
    if "--check" not in args:
        return
    from manage.light import reads

    reads.start()  # a check's answer is remembered keyed on what the process read
    plain = [arg for arg in args if arg != "--no-color"]
    if plain != ["makemigrations", "--check"]:
        return
    from manage.core.answers import remembered

    answer = remembered(Path.cwd()) or _without_collecting(_check_with_caches)
    if answer is not None:
        _write(answer.output, color=len(plain) == len(args))
        sys.exit(answer.exit_code)
    from manage.compat import load_deferred

    load_deferred()  # the full check imports as always


def _write(output: str, *, color: bool) -> None:
    """``output`` as the CLI prints it: its heading in colour on a terminal."""
    if color and output.startswith(PENDING + "\n") and sys.stdout.isatty():
        output = f"\x1b[36m\x1b[1m{PENDING}\x1b[0m" + output[len(PENDING) :]
    sys.stdout.write(output)


def _without_collecting(check: Callable[[], Answer | None]) -> Answer | None:
    """Run ``check`` with Python's cyclic garbage collector off: importing the models builds
    many objects that all live until the process ends, and collecting young generations over
    and over while they are built is a tenth of their import time. What was built is then
    frozen (left out of later collections) and collection resumes, for the full check."""
    import gc

    gc.disable()
    try:
        return check()
    finally:
        gc.freeze()
        gc.enable()


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
        if settings.databases:  # several databases: the CLI checks each
            return None
        index = insync.unchanged_history(settings)
        if index is None:
            return None
        from manage.compat import defer_unused_dialect_imports

        defer_unused_dialect_imports(settings.dialect_name)
        try:
            metadata = load_metadata(settings)
        except ManageError as exc:  # reported here: a second import of the models could
            _report(exc)  # fail differently (their tables already on a shared MetaData)
        models = insync.model_fingerprints(settings, metadata)
        if insync.known_in_sync(settings, metadata, index, models=models):
            answer = Answer(NO_CHANGES, 0)
        else:
            _without_pygments()
            # What commands.check_from_cache does, leaving the other commands unimported.
            from manage.core.check.pipeline import check_unchanged_history
            from manage.core.discovery import include_object_filter

            found = check_unchanged_history(
                settings,
                index,
                metadata,
                include_object=include_object_filter(settings),
                name=None,
                models=models,
            )
            if found is None:
                return None
            revision = found.revision_id
            path = settings.migrations_dir / f"{revision}.py" if revision else None
            lines = check_lines(path, found.operations, settings.project_root)
            answer = Answer("".join(f"{line}\n" for line in lines), 1 if found.operations else 0)
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


def _report(error: ManageError) -> NoReturn:
    """Print ``error`` as the CLI does (``Error: ...`` on stderr) and exit with its code."""
    from manage.cli import report_error

    report_error(error)


def _without_pygments() -> None:
    """Mako, which Alembic imports, imports Pygments when it is installed (Typer's Rich brings
    it) to colour its HTML error pages: a quarter of Alembic's import time. A check renders no
    template, so Mako takes its own fallback (as without Pygments) for the rest of the process.
    Neither do the other built-in commands: Alembic renders its migration template with Mako, and
    reports a template error as text, which needs no Pygments."""
    from manage.compat import without_mako_pygments

    without_mako_pygments()
