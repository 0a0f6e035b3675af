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


class ProjectCommandError(ManageError):
    """A project or plugin command could not be loaded, clashes with another, or was misused."""


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


class MigrationStoppedError(MigrationError):
    """``migrate`` was stopped (SIGINT, SIGTERM) in a migration; the message says what stayed,
    and the exit code stays the signal's (130, 143)."""

    def __init__(self, message: str, *, exit_code: int, stopped_by: BaseException) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stopped_by = stopped_by
        """The KeyboardInterrupt or SIGTERM's exception, for callers that only unwind."""
