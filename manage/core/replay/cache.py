"""Replayed states kept on disk: the replay of an unchanged history is loaded, not rebuilt."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from alembic.script import Script
from sqlalchemy import MetaData, Table

from manage.core.replay.apply import apply_script
from manage.core.replay.state import SchemaState, pickled_metadata
from manage.core.replay.state import unpickled_metadata as _unpickled
from manage.light.cachefs import prune, write_cache

KEEP_REPLAYS = 24
"""Replayed histories kept in the cache; the least recently written go first."""
LOOKBACK = 8
"""How many migrations back a replay looks for a remembered shorter history to continue."""


def replay_cached(
    scripts: Sequence[Script],
    dialect_name: str,
    cache: Path,
    *,
    also: Sequence[Path] = (),
    convention: dict[Any, Any] | None = None,
    start: Callable[[SchemaState], None] | None = None,
    start_key: str | None = None,
) -> tuple[SchemaState, Path | None]:
    """:func:`replay`, remembered in ``cache`` under a hash of the migration files, the project
    modules they import (``also``), the dialect, the models' naming ``convention`` and the
    library versions, so an unchanged history is not replayed again, and a history that grew
    by a few migrations replays only those. Returns the state and the file it is remembered in
    (None when it cannot be). ``start`` fills the empty state before the first migration (the
    ``bootstrap`` setting), ``start_key`` names it in the hash."""
    from manage.core.answers import library_stamps
    from manage.core.insync import convention_key

    named = convention_key(convention) if convention is not None else None
    seed = hashlib.sha256(
        json.dumps([dialect_name, library_stamps(), named, start_key], sort_keys=True).encode()
    )
    for file in also:
        seed.update(str(file).encode() + b"\0" + file.read_bytes())
    digests = [seed.hexdigest()[:40]]
    for script in scripts:  # each prefix of the history has a key of its own
        file = Path(script.path)
        digest = hashlib.sha256(digests[-1].encode() + str(file).encode() + b"\0")
        digest.update(file.read_bytes())
        digests.append(digest.hexdigest()[:40])
    path = cache / f"{digests[-1]}.pickle"
    state = load_state(path, dialect_name)
    if state is not None:
        return state, path
    state, done = SchemaState(dialect_name, convention), 0
    for known in range(len(scripts) - 1, max(len(scripts) - LOOKBACK, 0) - 1, -1):
        if (earlier := load_state(cache / f"{digests[known]}.pickle", dialect_name)) is not None:
            state, done = earlier, known
            break
    if done == 0 and start is not None:
        start(state)
    for script in scripts[done:]:
        apply_script(state, script)
    try:
        data = pickled_metadata(state.metadata)
    except Exception:  # e.g. a type defined inside a migration cannot be pickled
        return state, None
    if not write_cache(path, data):  # a read-only cache only costs speed
        return state, None
    prune(cache, "*.pickle", KEEP_REPLAYS)
    return state, path


def load_state(path: Path, dialect_name: str) -> SchemaState | None:
    """The state :func:`replay_cached` remembered in ``path``, or None if it is gone."""
    try:
        state = SchemaState(dialect_name)
        state.metadata = _unpickled(path.read_bytes())
    except Exception:
        return None
    return state


MAX_TABLES_APART = 8
"""A check comparing more tables than this loads the whole replayed state instead."""


def _tables_file(state_file: Path) -> Path:
    return state_file.with_name(state_file.name.removesuffix(".pickle") + ".tables")


def save_tables_apart(
    state: SchemaState, state_file: Path, faithful: Callable[[Table, Table], bool]
) -> None:
    """Beside ``state_file``, each table of ``state`` pickled on its own (copied into a MetaData
    of its own), so that a check comparing a few tables unpickles only those. A table whose
    copy is not ``faithful(table, copy)`` is left out: a check needing it loads everything."""
    path = _tables_file(state_file)
    if path.exists():  # saved by an earlier check: the same state file holds the same tables
        return
    apart: dict[str, bytes] = {}
    for name, table in state.metadata.tables.items():
        try:
            copy = table.to_metadata(MetaData(info=dict(state.metadata.info)))
            if faithful(table, copy):
                apart[name] = pickled_metadata(copy.metadata)
        except Exception:  # cannot be copied or pickled alone: left out
            continue
    if write_cache(path, pickle.dumps(apart)):  # a read-only cache only costs speed
        prune(path.parent, "*.tables", KEEP_REPLAYS)


def load_tables(
    state_file: Path,
    dialect_name: str,
    names: Collection[str],
    faithful: Callable[[str, Table], bool],
) -> SchemaState | None:
    """The tables ``names`` of the state remembered in ``state_file``, from the tables saved
    apart (foreign keys name their targets, which need not be there: a comparison reflects no
    referred table); else the whole state (None if it is gone). Tables saved apart are joined
    into one MetaData only if each copy stays ``faithful(name, copy)``."""
    if len(names) <= MAX_TABLES_APART:
        try:
            apart = pickle.loads(_tables_file(state_file).read_bytes())
            alone = [_unpickled(apart[name]) for name in sorted(names)]
            state = SchemaState(dialect_name)
            if len(alone) == 1:
                state.metadata = alone[0]
            else:
                for metadata in alone:
                    state.metadata.info.update(metadata.info)
                    for table in metadata.tables.values():
                        table.to_metadata(state.metadata)
                if not all(faithful(name, state.table(name)) for name in names):
                    raise ValueError("a joined table differs")
            return state
        except Exception:  # absent, damaged, a table left out: the whole state
            pass
    return load_state(state_file, dialect_name)
