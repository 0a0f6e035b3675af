"""The ``manage`` console script.

The commit hook runs ``manage makemigrations --check`` on every commit, so that exact command is
answered here when it can be, before the CLI (Typer, and the pydantic it coerces options with) is
loaded, by the first tiers of the check's one pipeline (:mod:`manage.core.check.pipeline`): the
remembered answer when nothing it depends on changed (no SQLAlchemy, no models); when the
migration history is unchanged since an earlier check, every table known to match it (no
Alembic), or else only the other tables compared with the cached replay of the history.
Anything else goes to :mod:`manage.cli`, which prints the same lines
(:func:`manage.light.render.check_lines`).
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, NoReturn

import manage.light.start  # noqa: F401 - the moment the process started, for cache keys
from manage.light.render import PENDING
from manage.registry import named_in

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from manage.core.answers import Answer
    from manage.core.settings import Settings
    from manage.errors import ManageError


def terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so a temporary shadow database is dropped on the way out."""
    from manage.light.signals import terminated as raise_terminated

    raise_terminated(signum, frame)


REMEMBER_CONVENTION = ("migrate", "schema")
"""The commands that may remember the models' naming convention
(:meth:`manage.core.migrations.loader.MigrationLoader.naming_convention`)."""


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
        if builtin.name in REMEMBER_CONVENTION:
            from manage.light import reads

            reads.snapshot(".")  # where a SQLite database may be created: told from other changes
            reads.start()  # the models' naming convention is remembered keyed on what they read
    from manage.cli import main as cli_main

    cli_main()


def answer_check(args: Sequence[str]) -> None:
    """The fast answer of ``manage makemigrations --check`` (``--no-color`` allowed anywhere):
    tiers 1 to 3 of the check's pipeline (:func:`manage.core.check.pipeline.fast_answer`);
    returns when the full check must run."""
    if "--check" not in args:
        return
    from manage.light import reads

    reads.start()  # a check's answer is remembered keyed on what the process read
    plain = [arg for arg in args if arg != "--no-color"]
    if plain != ["makemigrations", "--check"]:
        return
    from manage.core.check.pipeline import fast_answer

    answer = _without_collecting(
        lambda: fast_answer(prepare=_before_the_models, on_models_error=_report)
    )
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


def _before_the_models(settings: Settings) -> None:
    """This process only checks: Alembic's and SQLAlchemy's other dialects load when used."""
    from manage.compat import defer_unused_dialect_imports

    defer_unused_dialect_imports(settings.dialect_name)
    _without_pygments()


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
