"""The cached tiers of ``makemigrations --check``: an unchanged history, remembered table pairs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alembic.operations import ops
from sqlalchemy import MetaData
from sqlalchemy import __version__ as sqlalchemy_version
from sqlalchemy.exc import SQLAlchemyError

from manage.core import insync, revisions
from manage.core.discovery import IncludeObject
from manage.core.migrations.diagnostics import _sentence
from manage.core.migrations.enums import _enum_value_changes
from manage.core.migrations.ordering import _tables_first_and_last
from manage.core.migrations.types import Generated
from manage.core.replay import SchemaState, compare, load_state, load_tables
from manage.core.runnable import make_runnable
from manage.core.settings import Settings, describe_exception
from manage.errors import DiscoveryError, ManageError


def check_unchanged_history(
    settings: Settings,
    index: insync.HistoryIndex,
    metadata: MetaData | tuple[MetaData, ...],
    *,
    include_object: IncludeObject | None,
    name: str | None,
    models: Mapping[str, str | None] | None = None,
) -> Generated | None:
    """:meth:`MigrationEnvironment.check_in_memory` for a history whose files are unchanged since
    it last ran (``index``): its replayed state and revision ids come from the cache, so no
    migration file is loaded, and of that state only the tables compared. None when the cache
    cannot answer. ``models``: the fingerprints of ``metadata``'s tables, when already
    computed."""
    if not index.fits(metadata):  # replayed with another naming convention
        return None
    dialect = insync.project_dialect(settings)
    if models is None:
        models = insync.fingerprints(insync.model_tables(metadata), dialect)
    pairs = _Pairs.of(settings, models, index.tables)
    state_file = Path(index.state_file)
    if index.tables is None or not pairs.keys:
        state = load_state(state_file, settings.dialect_name)
    else:
        history = index.tables
        state = load_tables(
            state_file,
            settings.dialect_name,
            [table for table in history if table not in pairs.skip],
            lambda name, table: _same(insync.table_fingerprint(table, dialect), history.get(name)),
        )
    if state is None:
        return None
    upgrade_ops, _ = compare_remembering(
        settings,
        state,
        metadata,
        include_object=include_object,
        history=index.tables,
        models=models,
        pairs=pairs,
    )
    return _generated(
        upgrade_ops,
        list(index.revision_ids),
        name,
        initial=not index.revision_ids,
        dialect_name=settings.dialect_name,
    )


def _same(fingerprint: str | None, expected: str | None) -> bool:
    """Whether a copied table is known to be the table it copies (by its fingerprint)."""
    return fingerprint is not None and fingerprint == expected


@dataclass(frozen=True, slots=True)
class _Pairs:
    """Each table's pair key, the pairs known equal, and so the tables a comparison skips."""

    keys: Mapping[str, str | None]
    known: insync.KnownPairs | None
    skip: frozenset[str]

    @classmethod
    def of(
        cls,
        settings: Settings,
        models: Mapping[str, str | None] | None,
        history: Mapping[str, str | None] | None,
    ) -> _Pairs:
        context = insync.context_key(settings)
        keys = (
            insync.pair_keys(context, models, history)
            if context is not None and models is not None and history is not None
            else {}
        )
        known = insync.KnownPairs.load(context) if context is not None and keys else None
        skip = frozenset(
            table
            for table, key in keys.items()
            if known and key is not None and key in known and _TABLES_ALONE
        )
        return cls(keys, known, skip)


_TABLES_ALONE = tuple(int(part) for part in sqlalchemy_version.split(".")[:2]) >= (2, 1)
"""Whether a table can be compared without the tables its foreign keys point at: SQLAlchemy
2.0 resolves a reflected foreign key's target table when Alembic compares it
("NoReferencedTableError: ... could not find table 'author'"), so there every table is."""


def compare_remembering(
    settings: Settings,
    state: SchemaState,
    metadata: MetaData | tuple[MetaData, ...],
    *,
    include_object: IncludeObject | None,
    history: Mapping[str, str | None] | None = None,
    models: Mapping[str, str | None] | None = None,
    pairs: _Pairs | None = None,
) -> tuple[ops.UpgradeOps, Mapping[str, str | None] | None]:
    """:func:`~manage.core.replay.compare`, leaving out the tables whose pair of fingerprints
    was found equal before, and remembering the pairs it finds equal now. Also returns the
    fingerprints of the history's tables (``history``, the models' ``models`` and their
    ``pairs``: already known; ``state`` may then hold only the tables not skipped)."""
    if pairs is None:
        dialect = insync.project_dialect(settings)
        if models is None:
            models = insync.fingerprints(insync.model_tables(metadata), dialect)
        if history is None:
            history = insync.fingerprints(state.tables().values(), dialect)
        pairs = _Pairs.of(settings, models, history)
    keys, known, skip = pairs.keys, pairs.known, pairs.skip
    try:
        upgrade_ops = compare(
            state,
            metadata,
            url=settings.database_url,
            include_object=include_object,
            version_table=settings.version_table,
            skip=skip,
            plugins=settings.autogenerate_plugins,
        )
    except ManageError:
        raise
    except Exception as exc:  # the same words as the shadow database's comparison
        reason = _sentence(exc) if isinstance(exc, SQLAlchemyError) else describe_exception(exc)
        raise DiscoveryError(
            f"Comparing the models with the migrations failed: {reason}. Fix the models."
        ) from exc
    changed = {getattr(op, "table_name", None) for op in upgrade_ops.ops}
    if known is not None and None not in changed:
        known.add(
            key
            for table, key in keys.items()
            if key is not None and table not in skip and table not in changed
        )
        known.save()
    _tables_first_and_last(upgrade_ops)
    return upgrade_ops, history


def _generated(
    upgrade_ops: ops.UpgradeOps,
    revision_ids: list[str],
    name: str | None,
    *,
    initial: bool,
    dialect_name: str,
) -> Generated:
    _enum_value_changes(upgrade_ops, dialect_name)  # as makemigrations writes them
    make_runnable(upgrade_ops, dialect_name)  # issue 16: core/runnable.py
    operations = revisions.describe(upgrade_ops)
    rev_id = None
    if operations:
        slug = name or revisions.suggest_name(operations, initial=initial)
        rev_id = revisions.revision_id(revisions.next_number(revision_ids), slug)
    return Generated(rev_id, tuple(operations), None)
