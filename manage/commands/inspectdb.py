"""Write declarative models for an existing database (Django's ``inspectdb``), via sqlacodegen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.exc import InvalidRequestError

from manage.core.database import connection_error, make_engine
from manage.core.drivers import connect_errors, on_driver
from manage.core.history import HISTORY_TABLE
from manage.core.settings import Settings
from manage.core.urls import mask_url
from manage.core.writing import NO_SPACE
from manage.errors import DatabaseError, ManageError, SettingsError
from manage.light.cachefs import atomic_write


@dataclass(frozen=True, slots=True)
class InspectDbResult:
    """The generated models."""

    code: str
    tables: tuple[str, ...]
    path: Path | None = None
    """Where the code was written, or None when it was only returned."""


@on_driver
def inspectdb(
    settings: Settings,
    tables: Sequence[str] = (),
    *,
    output: Path | None = None,
    views: bool = False,
) -> InspectDbResult:
    """Reflect the database (all tables, or ``tables``) and render declarative model classes.

    The version table and the history table are left out. With ``output`` the code is
    written to that new file.

    Raises:
        ManageError: sqlacodegen is not installed, a table does not exist, or ``output`` does.
    """
    try:
        from sqlacodegen.generators import DeclarativeGenerator
    except ImportError as exc:
        raise ManageError(
            "manage inspectdb needs sqlacodegen, which is not installed. "
            "Install it with: pip install 'sqlalchemy-manage[inspectdb]'."
        ) from exc
    if output is not None and output.exists():
        raise SettingsError(f"{output} exists already. Name a new file, or remove that one.")
    metadata = MetaData()
    engine = make_engine(settings.database_url)
    try:
        metadata.reflect(engine, only=list(tables) or None, views=views)
        for own in (settings.version_table, HISTORY_TABLE):
            if own in metadata.tables:
                metadata.remove(metadata.tables[own])
        code = DeclarativeGenerator(metadata, engine, options=()).generate()
    except InvalidRequestError as exc:
        raise DatabaseError(
            f"{exc}. Name existing tables (see 'manage dbshell'), or none for all of them."
        ) from None
    except connect_errors() as exc:
        raise connection_error(settings.database_url, exc) from None
    finally:
        engine.dispose()
    if not metadata.tables:
        raise DatabaseError(
            f"The database at {mask_url(settings.database_url)} has no tables to inspect. "
            "Point database_url (or --database-url) at the existing database."
        )
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(output, code)  # a full disk leaves no cut-off models file behind
        except OSError as exc:
            fix = (
                "Free some space, then run the command again."
                if exc.errno in NO_SPACE
                else "Name a file you can write."
            )
            raise SettingsError(
                f"Could not write {output}: {exc.strerror or exc}. Nothing was written. {fix}"
            ) from exc
    return InspectDbResult(code, tuple(metadata.tables), output)
