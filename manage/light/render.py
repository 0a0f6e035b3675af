"""Results rendered as the lines the user reads: one copy of each, for the console script's fast
answers (the launcher, ``manage.quick``) and the CLI. Standard library only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from manage.core.revisions import Operation

NO_CHANGES = "No changes detected\n"
PENDING = "Model changes without a migration:"


def relative(path: Path, root: Path) -> str:
    """``path`` as shown to the user: relative to the project ``root`` when inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def check_lines(
    path: Path | None, operations: Sequence[Operation], project_root: Path
) -> list[str]:
    """What ``makemigrations --check`` prints when the migration to write would be ``path``
    (None: nothing to write): the first line is a heading."""
    if path is None:
        return ["No changes detected"]
    shown = relative(path, project_root)
    from manage.light.installed import installed_problem

    folder = str(Path(shown).parent)
    return [
        PENDING,
        *(f"    {operation}" for operation in operations),
        installed_problem(path.parent, folder) or f"Run 'manage makemigrations' to write {shown}.",
    ]


# -- migrate ---------------------------------------------------------------------------------

OPERATIONS = "Operations to perform:"
RUNNING = "Running migrations:"
NOTHING_TO_APPLY = "No migrations to apply."


def migrate_target(target: str) -> str:
    """The line under ``Operations to perform:`` for ``migrate TARGET``."""
    if target == "head":
        return "  Apply all migrations"
    if target == "zero":
        return "  Unapply all migrations"
    return f"  Target specific migration: {target}"


def ddl_retry(
    statement: str, timeout: float, blocked_by: str, retry: int, retries: int, delay: float,
    *, whole_migration: bool,
) -> str:  # fmt: skip
    """The note ``migrate`` prints when a DDL statement timed out waiting for a lock and is
    tried again (issue 14)."""
    again = "the migration, rolled back," if whole_migration else "it"
    return (
        f"  Lock timeout ({timeout:g} s) on {statement}, blocked by {blocked_by}. "
        f"Trying {again} again in {delay:.1f} s (retry {retry} of {retries})."
    )


def fast_forwarded(count: int, target: str) -> str:
    """The line under ``Running migrations:`` when an empty database was fast-forwarded."""
    return f"  Fast-forwarded {count} migrations to {target} in one pass."


def would_fast_forward(count: int, target: str) -> str:
    """The line under ``migrate --plan``'s steps when the run would fast-forward them."""
    return f"Would fast-forward {count} migrations to {target} in one pass: the database is empty."


def step_by_step(reason: str) -> str:
    """The note when an empty database is migrated step by step after all, and why (also
    under ``migrate --plan``'s steps when the run would be)."""
    return f"Applying step by step, not in one pass: {reason.rstrip('.')}."


# -- showmigrations --------------------------------------------------------------------------

NO_MIGRATIONS = " (no migrations)"
_MARKS = {True: "[X]", False: "[ ]", None: "[?]"}


def migration_line(
    revision: str, applied: bool | None, *, plan: bool, head: bool = False, missing_in: str = "",
    edited: bool = False, parents: tuple[str, ...] = (),
) -> str:  # fmt: skip
    """One line of ``showmigrations`` (``--plan``: marks first), without the ``-v 2`` details.

    Args:
        applied: True, False, or None when it cannot be known (``[?]``).
        missing_in: the migrations folder, for a revision the database records without a file.
        parents: shown after the id (``--plan -v 2``).
    """
    mark = _MARKS[applied]
    line = f"{mark}  {revision}" if plan else f" {mark} {revision}"
    if parents:
        line += f" ... ({', '.join(parents)})"
    if head:
        line += " (head)"
    if missing_in:
        line += f" (missing: recorded in the database, no file in {missing_in}/)"
    if edited:
        line += " (edited after it was applied)"
    return line


def missing_note(revision: str) -> str:
    """The note under ``showmigrations`` for a revision the database records without a file."""
    return (
        f"The database records {revision}, but no migration file has that id, so which "
        "migrations below it are applied is unknown ([?]). Restore the file, or record "
        "a revision that exists with 'manage migrate <id> --fake'."
    )


def edited_warning(revision: str, path: object, applied: str | None, now: str | None) -> str:
    """The warning ``showmigrations`` and ``check`` give for a migration edited after it was
    applied (``applied`` and ``now``: the file's sha256 then and now)."""
    return (
        f"Warning: migration {revision} ({path}) was edited after it was applied: sha256 "
        f"{applied} when applied, {now} now. The database has what the old file did: revert "
        "the edit, and put further changes in a new migration."
    )


# -- questions -------------------------------------------------------------------------------

SEVERAL_BASES = "Found several declarative Bases"


def needs_a_value(column: str, table: str) -> str:
    """Why makemigrations asks (or, without a terminal, fails) for a one-off default."""
    return (
        f"Column {column} is NOT NULL and has no server default, so the rows already in {table} "
        "need a value"
    )
