"""What each tier of ``makemigrations --check`` below the remembered answer does: tables known in
sync, the cached replay of an unchanged history, the history replayed in memory. In which order
they run, and when a cache is trusted, is :mod:`manage.core.check.pipeline`'s to decide."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.operations import ops
from sqlalchemy import MetaData
from sqlalchemy import __version__ as sqlalchemy_version
from sqlalchemy.exc import SQLAlchemyError

from manage.core import insync, revisions
from manage.core.discovery import IncludeObject
from manage.core.migrations.bootstrap import bootstrap_files, bootstrap_key, bootstrap_state
from manage.core.migrations.diagnostics import _sentence
from manage.core.migrations.enums import _enum_value_changes
from manage.core.migrations.ordering import _tables_first_and_last
from manage.core.migrations.types import Generated
from manage.core.replay import (
    SchemaState,
    UnreplayableError,
    compare,
    load_state,
    load_tables,
    replay_cached,
    save_tables_apart,
)
from manage.core.runnable import SequenceOp, make_runnable
from manage.core.settings import Settings, cache_dir, describe_exception
from manage.errors import ManageError, comparing_failed

if TYPE_CHECKING:
    from manage.core.migrations.environment import MigrationEnvironment


def cached_replay(
    settings: Settings,
    index: insync.HistoryIndex,
    metadata: MetaData | tuple[MetaData, ...],
    *,
    include_object: IncludeObject | None,
    name: str | None,
    models: Mapping[str, str | None] | None,
) -> Generated | None:
    """:func:`in_memory` for a history whose files are unchanged since it last ran (``index``,
    fitting ``metadata``'s naming convention): its replayed state and revision ids come from the
    cache, so no migration file is loaded, and of that state only the tables compared. None when
    the cached state is gone. ``models``: the fingerprints of ``metadata``'s tables."""
    dialect = insync.project_dialect(settings)
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
            models = insync.fingerprints(
                insync.model_tables(metadata), dialect, insync.model_sequences(metadata)
            )
        if history is None:
            sequences = [repr(i) for i in sorted(state.bound_ddl.items()) if i[0][0] == "SEQUENCE"]
            sequences += [repr(item) for item in sorted(state.sequences, key=repr)]
            history = insync.fingerprints(state.tables().values(), dialect, sequences)
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
        raise comparing_failed(reason) from exc
    changed = {getattr(op, "table_name", None) for op in upgrade_ops.ops}
    if any(isinstance(op, SequenceOp) for op in upgrade_ops.ops):
        changed.add(insync.SEQUENCES)  # a sequence created or dropped: not known in sync
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


def in_memory(
    env: MigrationEnvironment,
    metadata: MetaData | tuple[MetaData, ...],
    *,
    include_object: IncludeObject | None,
    name: str | None,
) -> Generated:
    """What ``makemigrations`` would write, found without any database: the history is replayed
    in memory (its state cached by the files' bytes) and compared with Alembic's comparators for
    the project's dialect. Writes what :func:`cached_replay` and the in-sync tier read next time:
    the history's index, its tables apart, the pairs found equal.

    Raises:
        UnreplayableError: a migration's effect on the schema needs a database to know.
    """
    env.single_head()  # several heads: said before anything else
    settings = env.settings
    if plugins := settings.database_plugins():
        raise UnreplayableError(
            f"The autogenerate plugin {plugins[0]!r} may compare what only a database holds", ""
        )
    scripts = list(reversed(list(env.script.walk_revisions())))
    convention = insync.naming_convention(metadata)
    also = [*env.imported_by_migrations, *bootstrap_files(settings)]
    state, state_file = replay_cached(
        scripts,
        settings.dialect_name,
        cache_dir() / "replay",
        also=also,
        convention=convention,
        start=lambda state: bootstrap_state(settings, state),
        start_key=bootstrap_key(settings),
    )
    upgrade_ops, history_tables = compare_remembering(
        settings, state, metadata, include_object=include_object
    )
    digest = insync.history_digest(settings)
    if digest is not None and state_file is not None and history_tables is not None:
        dialect = insync.project_dialect(settings)
        save_tables_apart(
            state,
            state_file,
            lambda table, copy: _same(
                insync.table_fingerprint(copy, dialect), history_tables.get(table.name)
            ),
        )
    if digest is not None and state_file is not None:
        insync.write_index(
            digest,
            revision_ids=env.revision_ids(),
            imported=also,
            state_file=state_file,
            tables=history_tables,
            convention=insync.convention_key(convention),
        )
    return _generated(
        upgrade_ops,
        env.revision_ids(),
        name,
        initial=not scripts,
        dialect_name=settings.dialect_name,
    )
