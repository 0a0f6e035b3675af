"""The commit guard's one pipeline: every tier of ``makemigrations --check`` in order, and the one
place that decides which cache stands in for a fresh comparison.

1. remembered answer  the lines an earlier check printed, while nothing that process read has
                      changed (:mod:`manage.core.answers`: standard library, no models imported)
2. known in sync      the history unchanged since an earlier check (its index, keyed by the
                      migration files' bytes) and every table's pair of fingerprints found equal
                      before (:mod:`manage.core.insync`): SQLAlchemy and the models, no Alembic
3. cached replay      the history unchanged: only the other tables compared with its cached state
4. in-memory replay   the history replayed without a database and compared; it writes what tiers
                      2 and 3 read (the index, the tables apart, the pairs found equal)
5. shadow database    the history replayed into a throwaway database: when it cannot be replayed
                      in memory, and always to write a migration

What each tier does is :mod:`manage.core.check.tiers`; this module imports only the standard
library until a tier past the remembered answer runs, so the launcher asks it first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from manage.core import answers
from manage.core.answers import Answer
from manage.light.render import check_lines
from manage.light.start import DATABASE_URL_AT_START, STARTED_NS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import MetaData

    from manage.core.discovery import IncludeObject
    from manage.core.migrations.environment import MigrationEnvironment
    from manage.core.migrations.types import Generated
    from manage.core.questions import Questioner
    from manage.core.revisions import Operation
    from manage.core.settings import Settings
    from manage.errors import ManageError

    Models = MetaData | tuple[MetaData, ...]

CACHED = 3
"""Up to the cached replay of an unchanged history: no migration file is loaded."""
IN_MEMORY = 4
"""Up to the in-memory replay: no database."""
SHADOW = 5
"""Every tier, up to the shadow database."""


def _ignore(_message: str) -> None:
    return None


def remembered(start: Path) -> Answer | None:
    """Tier 1: the remembered answer for the project at ``start``, or None."""
    return answers.remembered(start)


def remember(settings: Settings, path: Path | None, operations: Sequence[Operation]) -> None:
    """Keep the answer of a plain ``makemigrations --check`` (its ``path`` and ``operations``)
    as tier 1's, keyed on everything this process read (:func:`manage.core.answers.remember`)."""
    lines = check_lines(path, operations, settings.project_root)
    answers.remember(
        settings.project_root,
        settings.migrations_dir,
        Answer("".join(f"{line}\n" for line in lines), 1 if operations else 0),
        started_ns=STARTED_NS,
        database_url=DATABASE_URL_AT_START,
    )


def fast_answer(
    *,
    prepare: Callable[[Settings], None],
    on_models_error: Callable[[ManageError], NoReturn],
) -> Answer | None:
    """Tiers 1 to 3 for the console script, before the CLI is imported: the answer as the CLI
    prints it (remembered for next time), or None when the full check must run (which also
    reports any error met here). ``prepare`` runs before the models are imported;
    ``on_models_error`` reports a models import that failed (importing them again in the full
    check could fail differently: their tables already on a shared MetaData)."""
    answer = remembered(Path.cwd())
    if answer is not None:
        return answer
    from manage.core.settings import load_settings
    from manage.errors import ManageError

    try:
        settings = load_settings()
        if settings.databases:  # several databases: the CLI checks each
            return None
        found = check(settings, through=CACHED, prepare=prepare, on_models_error=on_models_error)
    except ManageError:
        return None
    if found is None:
        return None
    path = settings.migrations_dir / f"{found.revision_id}.py" if found.revision_id else None
    remember(settings, path, found.operations)
    lines = check_lines(path, found.operations, settings.project_root)
    return Answer("".join(f"{line}\n" for line in lines), 1 if found.operations else 0)


def check(
    settings: Settings,
    *,
    name: str | None = None,
    through: int = SHADOW,
    environment: Callable[[], MigrationEnvironment] | None = None,
    metadata: Models | None = None,
    write_to: Path | None = None,
    questioner: Questioner | None = None,
    on_notice: Callable[[str], None] = _ignore,
    prepare: Callable[[Settings], None] | None = None,
    on_models_error: Callable[[ManageError], NoReturn] | None = None,
) -> Generated | None:
    """Tiers 2 to ``through`` in order; the first that can answer does.

    With ``write_to`` a migration is being written: a cheaper tier's answer stands only when it
    is "no changes", and the migration itself is generated against the shadow database into
    ``write_to`` (``questioner`` answering its questions). Returns None only when no tier up
    to ``through`` can answer (``CACHED``).

    Args:
        environment: makes the history's environment, when a tier needs it (tiers 2 and 3 load
            no migration file).
        metadata: the models' MetaData, when already imported.
        on_notice: told why a check falls back to a shadow database.

    Raises:
        UnreplayableError: ``through`` is ``IN_MEMORY`` and the history needs a database.
        DiscoveryError: the models do not import (``on_models_error`` is called instead).
    """
    from manage.core import insync  # SQLAlchemy; Alembic only from tier 3 on
    from manage.core.discovery import include_object_filter

    writing = write_to is not None

    def stands(found: Generated) -> bool:
        return not (writing and found.operations)

    # 2 and 3: a history whose files are as they were at an earlier check.
    index = insync.unchanged_history(settings)
    if index is not None:
        if prepare is not None:
            prepare(settings)
        metadata = _models(settings, metadata, on_models_error)
        if index.fits(metadata):  # else replayed with another naming convention
            models = insync.model_fingerprints(settings, metadata)
            if insync.known_in_sync(settings, metadata, index, models=models):
                from manage.core.migrations.types import Generated

                return Generated(None, (), None)
            from manage.core.check import tiers

            found = tiers.cached_replay(
                settings,
                index,
                metadata,
                include_object=include_object_filter(settings),
                name=name,
                models=models,
            )
            if found is not None and stands(found):
                return found
    if through < IN_MEMORY:
        return None

    # 4: the history replayed in memory.
    from manage.core.check import tiers
    from manage.core.replay import UnreplayableError

    env = environment() if environment is not None else _environment(settings)
    env.single_head()  # several heads: said before the models are imported
    metadata = _models(settings, metadata, on_models_error)
    include_object = include_object_filter(settings)
    unreplayable: UnreplayableError | None = None
    try:
        found = tiers.in_memory(env, metadata, include_object=include_object, name=name)
    except UnreplayableError as exc:
        if through < SHADOW:
            raise
        if not writing:
            on_notice(f"{exc}; comparing against a shadow database instead.")
            unreplayable = exc
    else:
        if stands(found):
            return found

    # 5: the shadow database.
    return _shadow(
        settings,
        env,
        metadata,
        include_object=include_object,
        name=name,
        write_to=write_to,
        questioner=questioner,
        unreplayable=unreplayable,
    )


def _models(
    settings: Settings,
    metadata: Models | None,
    on_error: Callable[[ManageError], NoReturn] | None,
) -> Models:
    """The models' MetaData, imported once."""
    if metadata is not None:
        return metadata
    from manage.core.discovery import load_metadata
    from manage.errors import ManageError

    try:
        return load_metadata(settings)
    except ManageError as exc:
        if on_error is None:
            raise
        on_error(exc)


def _environment(settings: Settings) -> MigrationEnvironment:
    from manage.core.migrations.environment import MigrationEnvironment

    return MigrationEnvironment(settings)


def _shadow(
    settings: Settings,
    env: MigrationEnvironment,
    metadata: Models,
    *,
    include_object: IncludeObject | None,
    name: str | None,
    write_to: Path | None,
    questioner: Questioner | None,
    unreplayable: Exception | None,
) -> Generated:
    """Tier 5: the history replayed into a throwaway database of the project's dialect, then
    compared (and, with ``write_to``, the migration written there)."""
    from manage.core.database import shadow_connection
    from manage.core.questions import Questioner
    from manage.errors import DatabaseError, MigrationError

    try:
        with shadow_connection(settings) as (connection, rollback):
            return env.compare_with_history(
                connection,
                metadata,
                include_object=include_object,
                name=name,
                write_to=write_to,
                rollback=rollback,
                questioner=questioner or Questioner(),
            )
    except DatabaseError as exc:
        if unreplayable is None:
            raise
        raise MigrationError(
            f"{unreplayable}, and no shadow database is available to check it ({exc}). "
            "Start the database server or set shadow_database_url, or write that change "
            "with Alembic operations (op.create_table, op.add_column, ...) so that it "
            "replays in memory."
        ) from exc
