"""The ManageError hierarchy: every failure a user can fix, each mapped to an exit code."""

from __future__ import annotations


class ManageError(Exception):
    """A problem the user can fix; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 3


class SettingsError(ManageError):
    """The project's settings are missing or invalid."""


class DiscoveryError(ManageError):
    """The models could not be imported or are not a Base/MetaData."""


class DatabaseError(ManageError):
    """The database could not be reached or refused an operation."""


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
