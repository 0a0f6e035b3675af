"""The ManageError hierarchy: every failure a user can fix, each mapped to an exit code."""

from __future__ import annotations


class ManageError(Exception):
    """A problem the user can fix; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 3


class UsageError(ManageError):
    """Options that contradict each other or do nothing together: a usage error (exit 2)."""

    exit_code = 2


class SettingsError(ManageError):
    """The project's settings are missing or invalid."""


class DiscoveryError(ManageError):
    """The models could not be imported or are not a Base/MetaData."""


class DatabaseError(ManageError):
    """The database could not be reached or refused an operation."""


class LockTimeoutError(DatabaseError):
    """Another ``manage migrate`` held the migration lock for longer than ``--lock-timeout``."""


class DataLossError(ManageError):
    """Unapplying would drop tables or columns holding data, and nobody allowed it."""


class ProjectCommandError(ManageError):
    """A project or plugin command could not be loaded, clashes with another, or was misused."""


class ProjectExitError(ManageError):
    """Project code (a migration, the models, a callable a setting names) called ``sys.exit()``
    while a built-in command ran."""


class DbShellError(ManageError):
    """The database's client program is not installed, or its dialect has none."""


class ShellError(ManageError):
    """The shell interface asked for is unknown or not installed."""


class MigrationError(ManageError):
    """A migration file or the migration history is broken."""


class MultipleHeadsError(MigrationError):
    """The history has several heads; a merge migration is needed."""

    def __init__(self, message: str, heads: tuple[str, ...]) -> None:
        super().__init__(message)
        self.heads = heads


class RevisionNotFoundError(MigrationError):
    """A revision named by the user or by the database is not on disk."""

    def __init__(self, message: str, revision: str) -> None:
        super().__init__(message)
        self.revision = revision


class UnreplayableError(MigrationError):
    """A migration does something whose effect on the schema cannot be known without a database."""

    def __init__(self, message: str, revision: str) -> None:
        super().__init__(message)
        self.revision = revision


class ReplayFailedInPythonError(UnreplayableError):
    """The migration's own code raised in the in-memory replay (not the reading of what it sent
    through the bind): on PostgreSQL and MariaDB it may then run again as a data step."""


class SchemaLookupError(ManageError):
    """``manage schema --blame`` names a table or column the schema at that revision lacks."""


class SchemaRenderError(ManageError):
    """The replayed schema holds something the dialect asked for cannot express."""


class DdlLockTimeoutError(MigrationError):
    """A DDL statement of a migration waited longer than ``ddl_lock_timeout`` for a lock, on
    every one of its ``ddl_retries`` tries; the message names the statement and the blockers."""


class MigrationStoppedError(MigrationError):
    """``migrate`` was stopped (SIGINT, SIGTERM) in a migration; the message says what stayed,
    and the exit code stays the signal's (130, 143)."""

    def __init__(self, message: str, *, exit_code: int, stopped_by: BaseException) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stopped_by = stopped_by
        """The KeyboardInterrupt or SIGTERM's exception, for callers that only unwind."""


# -- the wording of the errors raised by the CLI and call_command ------------------------------
# (errors found deeper are worded where the problem is known, naming what the user must change)

ERROR_PREFIX = "Error: "
"""What the boundary prints before every error's message, on stderr."""


def unknown_command(name: str, known: list[str]) -> ProjectCommandError:
    return ProjectCommandError(f"Unknown command '{name}'. Available commands: {', '.join(known)}.")


def group_of_commands(name: str, origin: str) -> ProjectCommandError:
    return ProjectCommandError(
        f"'{name}' ({origin}) is a group of commands. Call one of its commands instead."
    )


def command_exited(name: str, code: int) -> ProjectCommandError:
    error = ProjectCommandError(f"Command '{name}' exited with code {code}.")
    error.exit_code = code
    return error


def invalid_arguments(name: str, problem: object, parameters: str) -> ProjectCommandError:
    return ProjectCommandError(
        f"Invalid arguments for command '{name}': {problem}. Its parameters: {parameters}."
    )


def commands_failed_to_load(description: str) -> ProjectCommandError:
    return ProjectCommandError(
        f"Loading the project and plugin commands failed: {description}. Fix the error."
    )


def commands_still_work(error: ManageError) -> str:
    """The warning ``--help`` shows when the project's commands cannot be loaded."""
    return f"Warning: {error} The built-in commands still work."


def command_cannot_be_built(name: str, origin: str, where: str, description: str) -> ManageError:
    return ProjectCommandError(
        f"The command '{name}' of {origin} ({where}) cannot be built: {description}. "
        "Fix its parameters and their type hints."
    )


def project_exit(description: str) -> ProjectExitError:
    """A ``sys.exit()`` from project code (a migration, the models, a callable a setting names)
    while manage ran: manage does not stop quietly with its code."""
    return ProjectExitError(
        f"Project code stopped manage: {description}. Remove the sys.exit() call "
        "(raise an exception to fail)."
    )


# -- wording that several of core's modules say: each written once --------------------------------


def comparing_failed(reason: str) -> DiscoveryError:
    """The models could not be compared with the history (in memory or in a shadow database)."""
    return DiscoveryError(
        f"Comparing the models with the migrations failed: {reason}. Fix the models."
    )


def not_writable(path: object, reason: str) -> MigrationError:
    """A migration file (or the folder for it) could not be written."""
    return MigrationError(
        f"Could not write {path}: {reason}. Make the migrations folder writable, or point the "
        "migrations setting at a folder that can be."
    )


def check_the_target(sentence: str) -> str:
    """``sentence`` about a revision that cannot be reached, with the way to see the history."""
    return f"{sentence}. Check the target with 'manage showmigrations'."


def cannot_render_offline(what: str, reason: str, fix: str) -> MigrationError:
    """``what`` (a migration, or one of its functions) cannot be rendered as SQL offline."""
    return MigrationError(
        f"Cannot render the SQL of {what} offline: {reason}. Migrations that read the database, "
        f"or SQLite batch operations that copy a table, need a live database: {fix}."
    )


def also_fix_down_revisions(advice: str) -> str:
    """``advice`` to rename a revision id, and the migrations that point at it."""
    return f"{advice} (and fix any down_revision that points at it)."


def sent_through_the_bind(what: str) -> str:
    """``what`` (SQL) as a migration's Python code runs it: through ``op.get_bind()``."""
    return f"{what} through op.get_bind()"


def needs_a_database(what: str) -> str:
    """Why a history cannot be replayed in memory: ``what`` (a migration runs ...) changes the
    schema in a way only a database can tell."""
    return f"{what}, whose effect on the schema cannot be known without a database"
