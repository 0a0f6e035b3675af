"""Which tables are known to match the migration history, so a check compares only the others.

A table's answer depends on two things only: the table as the models declare it, and the table as
the history builds it. Both are reduced to a fingerprint (the dialect's DDL plus the attributes
Alembic compares that DDL does not show); a pair of fingerprints that Alembic's comparison once
found equal is remembered, so the next check compares only the tables whose pair is new. When
every pair is known, the check needs neither Alembic nor the migration files: this module imports
neither.

The history's side comes from an index written beside the replay cache, keyed by the bytes of the
migration files: their revision ids, the project modules they import, and each table's
fingerprint.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Constraint,
    ForeignKeyConstraint,
    Index,
    MetaData,
    Sequence,
    Table,
)
from sqlalchemy.engine import Dialect, make_url

from manage.compat import metadata_sequences, table_prefixes
from manage.core.answers import library_stamps
from manage.core.settings import Settings, cache_dir
from manage.light.cachefs import file_stamp, prune, write_cache

FORMAT = 3
MAX_KNOWN = 20_000
"""Pairs remembered per project context; the oldest are forgotten first."""
KEEP_INDEXES = 24
"""History indexes kept; the least recently written go first."""
STAMP_SLACK_NS = 1_000_000_000
"""Files changed this recently are hashed, never known by their stamps."""


def project_dialect(settings: Settings) -> Dialect:
    """The dialect of the project's URL, without its driver: what Alembic's comparison uses."""
    dialect: Dialect = make_url(settings.database_url).get_dialect()()
    return dialect


def model_tables(metadata: MetaData | tuple[MetaData, ...]) -> list[Table]:
    collections = metadata if isinstance(metadata, tuple) else (metadata,)
    return [table for each in collections for table in each.tables.values()]


def table_fingerprint(
    table: Table, dialect: Dialect, reprs: dict[Any, str] | None = None
) -> str | None:
    """Everything about ``table`` that Alembic's comparison looks at, as text; None when some of
    it cannot be written down reliably (then the table is always compared).

    Not the CREATE TABLE statement: compiling it costs more than the rest of a check whose
    models are unchanged. What it shows is written down part by part instead: each column's
    type as the dialect compiles it, and each constraint's final name, columns and SQL.
    ``reprs``: the types' reprs found so far (:func:`_type_repr`), shared between tables."""
    try:
        parts = [
            f"table {table.name!r} schema={table.schema!r} comment={table.comment!r} "
            f"prefixes={table_prefixes(table)!r} options={_options(table)}"
        ]
        reprs = {} if reprs is None else reprs
        parts += [_column(column, dialect, reprs) for column in table.columns]
        parts += sorted(_constraint(item, dialect) for item in table.constraints)
        parts += sorted(_index(index, dialect) for index in table.indexes)
    except Exception:  # a type the dialect cannot compile, a custom construct: always compare
        return None
    text = "\n".join(parts)
    if " at 0x" in text:  # an object shown by its address: not the same text twice
        return None
    return text


def _options(item: Any) -> str:
    if "dialect_options" not in item.__dict__:  # never given any (SQLAlchemy's own shortcut)
        return "[]"
    kwargs = getattr(item, "dialect_kwargs", None) or {}
    return repr(sorted((key, repr(value)) for key, value in kwargs.items()))


def _final_name(item: Constraint | Index, dialect: Dialect) -> str | None:
    """The name the dialect gives ``item`` (a naming convention applied), as Alembic computes
    it; None when unnamed."""
    if item.name is None:
        return None
    return dialect.identifier_preparer.format_constraint(item, _alembic_quote=False)


def _index(index: Index, dialect: Dialect) -> str:
    name = _final_name(index, dialect)
    on = [_expression(item, dialect) for item in index.expressions]
    return f"index {index.name!r} name={name!r} unique={index.unique} on={on} {_options(index)}"


def _expression(item: Any, dialect: Dialect) -> str:
    """An indexed column by name, or an indexed expression as the dialect writes it."""
    if isinstance(item, Column):
        return f"column {item.name!r}"
    return _sql(item, dialect)


def _sql(expression: Any, dialect: Dialect) -> str:
    """``expression`` as Alembic renders it for comparison: literal values written out (a bound
    parameter would hide them: ``lower('ABC')`` and ``lower('XYZ')`` both ``lower(%(lower_1)s)``).
    One that cannot be written so raises, and the table is always compared."""
    return str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _column(column: Column[Any], dialect: Dialect, reprs: dict[Any, str]) -> str:
    default = column.server_default
    default_text = None
    if default is not None:
        arg = getattr(default, "arg", None)
        default_text = (
            arg
            if isinstance(arg, str)
            else _sql(arg, dialect)
            if arg is not None
            else type(default).__name__
        )
    compiled = dialect.type_compiler_instance.process(column.type, type_expression=column)
    shown = _type_repr(column.type, reprs)
    return (
        f"column {column.name!r} type={compiled} {shown} nullable={column.nullable} "
        f"pk={column.primary_key} autoincrement={column.autoincrement!r} "
        f"default={default_text!r} comment={column.comment!r} "
        f"computed={_computed(column, dialect)} identity={column.identity!r} "
        f"system={column.system} options={_options(column)} sequence={_sequence(column)}"
    )


def _sequence(column: Column[Any]) -> str | None:
    """The ``Sequence`` a column takes its values from (issue 16: one added is compared)."""
    sequence = column.default
    if not isinstance(sequence, Sequence):
        return None
    options = ("start", "increment", "minvalue", "maxvalue", "cycle")
    return repr((sequence.name, sequence.schema, *(getattr(sequence, o) for o in options)))


def _constraint(constraint: Constraint, dialect: Dialect) -> str:
    name = _final_name(constraint, dialect)
    text = (
        f"{type(constraint).__name__} {constraint.name!r} name={name!r} "
        f"columns={[column.name for column in getattr(constraint, 'columns', ())]} "
        f"deferrable={constraint.deferrable} initially={constraint.initially} "
        f"{_options(constraint)}"
    )
    if isinstance(constraint, CheckConstraint):
        text += f" check={_sql(constraint.sqltext, dialect)!r}"
    if isinstance(constraint, ForeignKeyConstraint):
        text += f" {_foreign_key(constraint)}"
    return text


def _type_repr(type_: Any, reprs: dict[Any, str]) -> str:
    """``repr(type_)``, which SQLAlchemy builds from its constructor's signature, slowly: the
    repr is a function of the type's class and attributes, so types equal in both share it."""
    try:
        # Value types too: 1 == True == 1.0, but their reprs differ.
        key = (type(type_), tuple(sorted((k, type(v), v) for k, v in vars(type_).items())))
        found = reprs.get(key)
    except Exception:  # an attribute that cannot be hashed or compared: no sharing
        return repr(type_)
    if found is None:
        found = reprs[key] = repr(type_)
    return found


def _computed(column: Column[Any], dialect: Dialect) -> str | None:
    computed = column.computed
    if computed is None:
        return None
    return f"{_sql(computed.sqltext, dialect)} persisted={computed.persisted}"


def _foreign_key(constraint: ForeignKeyConstraint) -> str:
    return (
        f"fk {constraint.name!r} {list(constraint.column_keys)} -> "
        f"{[element.target_fullname for element in constraint.elements]} "
        f"ondelete={constraint.ondelete} onupdate={constraint.onupdate} "
        f"deferrable={constraint.deferrable} initially={constraint.initially} "
        f"match={constraint.match} use_alter={constraint.use_alter}"
    )


SEQUENCES = "\x00sequences"
"""The pseudo table name of the sequences' fingerprint: a sequence added or removed is a change
no table's fingerprint shows."""


def model_sequences(metadata: MetaData | tuple[MetaData, ...]) -> list[str]:
    """The models' sequences (standalone and the columns'), for :func:`fingerprints`."""
    all_metadata = metadata if isinstance(metadata, tuple) else (metadata,)
    return sorted(
        repr((s.schema, str(s.name).lower(), s.start, s.increment))
        for one in all_metadata
        for s in metadata_sequences(one)
    )


def fingerprints(
    tables: Iterable[Table], dialect: Dialect, sequences: Iterable[str] = ()
) -> dict[str, str | None] | None:
    """Each table's fingerprint by name; None when a table has a schema of its own, since the
    comparison then pairs tables by rules this cache does not follow. ``sequences``: one text
    per sequence (the models' or the history's), fingerprinted together as :data:`SEQUENCES`."""
    found: dict[str, str | None] = {}
    if listed := sorted(sequences):
        found[SEQUENCES] = _digest(*listed).hexdigest()
    reprs: dict[Any, str] = {}
    for table in tables:
        if table.schema is not None:
            return None
        found[table.name] = table_fingerprint(table, dialect, reprs)
    return found


def _digest(*parts: Any) -> hashlib._Hash:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())


def _hook_identity(hook: object) -> str | None:
    """The include_object hook, as the bytes of the file that defines it: a changed hook changes
    the answers. None when its source cannot be found."""
    if hook is None:
        return "none"
    try:
        if isinstance(hook, str):
            import importlib.util

            spec = importlib.util.find_spec(hook.partition(":")[0])
            source = spec.origin if spec else None
        else:
            source = inspect.getsourcefile(hook)  # type: ignore[arg-type]
        if not source:
            return None
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()
    except Exception:
        return None


def context_key(settings: Settings) -> str | None:
    """Everything besides the two tables that decides a comparison; None when unknowable.

    Also None with an ``include_object`` hook: its answer for a table (and each column, index
    and constraint, on either side) can depend on anything (``Table.info``, a list in another
    module, the environment), so with a hook every table is compared."""
    if settings.include_object is not None:
        return None
    hook = _hook_identity(settings.include_object)
    if hook is None:
        return None
    return _digest(
        FORMAT,
        settings.dialect_name,
        make_url(settings.database_url).drivername,
        settings.version_table,
        list(settings.exclude_tables),
        hook,
        library_stamps(),
    ).hexdigest()[:40]


def pair_key(context: str, name: str, model: str | None, history: str | None) -> str:
    return _digest(context, name, model, history).hexdigest()[:32]


@dataclass
class KnownPairs:
    """The pairs (model table, history table) found equal, for one project context."""

    path: Path
    keys: dict[str, None]  # ordered: oldest first
    added: bool = False

    @classmethod
    def load(cls, context: str) -> KnownPairs:
        path = cache_dir() / "insync" / f"{context}.json"
        try:
            keys = dict.fromkeys(json.loads(path.read_text(encoding="utf-8")))
        except Exception:  # absent or damaged: nothing is known
            keys = {}
        return cls(path, keys)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def add(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key not in self.keys:
                self.keys[key] = None
                self.added = True

    def save(self) -> None:
        if not self.added:
            return
        write_cache(self.path, json.dumps(list(self.keys)[-MAX_KNOWN:]))


def pair_keys(
    context: str,
    models: Mapping[str, str | None],
    history: Mapping[str, str | None],
) -> dict[str, str | None]:
    """Each table name's pair key; None for a table that must always be compared."""
    keys: dict[str, str | None] = {}
    for name in sorted({*models, *history}):
        model, past = models.get(name, "absent"), history.get(name, "absent")
        keys[name] = None if model is None or past is None else pair_key(context, name, model, past)
    return keys


# -- the history's side, without loading the migration files ------------------------------------


def history_digest(settings: Settings) -> str | None:
    """A hash of the migration files' names and bytes (the files Alembic loads), or None when the
    folder holds files this shortcut does not understand.

    The bytes are read only when the files' stamps (size, mtime, ctime, inode) differ from the
    last time: for unchanged stamps the hash remembered with them is reused."""
    folder = settings.migrations_dir
    base = _digest(FORMAT, settings.dialect_name, library_stamps())
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return None
    files: list[tuple[str, str]] = []
    stamps: list[list[Any]] = []
    for entry in entries:
        name = entry.name
        if name.startswith((".#", "__init__")) or not entry.is_file():
            continue
        if name.endswith((".pyc", ".pyo")):
            return None
        if name.endswith(".py"):
            stamp = file_stamp(entry.path)
            if stamp is None:  # gone or unreadable: the full check reports it
                return None
            files.append((name, entry.path))
            stamps.append([name, *stamp])
    remembered = _StampedDigest(folder, base.hexdigest(), stamps)
    if (known := remembered.read()) is not None:
        return known
    digest = base
    for name, path in files:
        try:
            digest.update(name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
        except OSError:  # unreadable: the full check reports it
            return None
    found = digest.hexdigest()[:40]
    remembered.write(found)
    return found


@dataclass(frozen=True, slots=True)
class _StampedDigest:
    """The history digest last computed for a migrations folder, with the stamps of its files."""

    folder: Path
    base: str
    stamps: list[list[Any]]

    @property
    def path(self) -> Path:
        name = hashlib.sha256(str(self.folder).encode()).hexdigest()[:32]
        return cache_dir() / "replay" / f"{name}.stamps.json"

    def key(self) -> str:
        return _digest(FORMAT, self.base, str(self.folder), self.stamps).hexdigest()

    def read(self) -> str | None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            return str(record["digest"]) if record["key"] == self.key() else None
        except Exception:  # absent or damaged: hash the bytes
            return None

    def write(self, digest: str) -> None:
        # File times come from a coarse clock: a file changed within a second of now may change
        # again with the same stamp, so its stamp says nothing yet (as for remembered answers).
        since = time.time_ns() - STAMP_SLACK_NS
        if any(stamp[2] >= since for stamp in self.stamps):
            return
        write_cache(self.path, json.dumps({"key": self.key(), "digest": digest}))


def _files_digest(paths: Iterable[str]) -> str | None:
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _index_path(history: str) -> Path:
    return cache_dir() / "replay" / f"{history}.index.json"


@dataclass(frozen=True, slots=True)
class HistoryIndex:
    """What a check needs of an unchanged history, remembered from the last time it was loaded."""

    revision_ids: tuple[str, ...]
    state_file: str
    tables: dict[str, str | None] | None
    convention: str | None = None
    """The models' naming convention the history was replayed with (:func:`convention_key`)."""

    def fits(self, metadata: MetaData | tuple[MetaData, ...]) -> bool:
        """Whether the history was replayed with the naming convention ``metadata`` has."""
        return self.convention == convention_key(naming_convention(metadata))


def naming_convention(metadata: MetaData | tuple[MetaData, ...] | None) -> dict[Any, Any]:
    """The naming convention Alembic's operations apply when ``metadata`` is the
    ``target_metadata``: a single MetaData's own (several MetaData: SQLAlchemy's default, as
    Alembic's ``op`` finds no one convention in a list)."""
    if isinstance(metadata, MetaData):
        return dict(metadata.naming_convention)
    return dict(MetaData().naming_convention)


def convention_key(convention: Mapping[Any, Any]) -> str:
    """A stable text for ``convention`` (its keys may be classes, its values functions)."""

    def name(item: Any) -> str:
        return str(getattr(item, "__qualname__", item))

    return json.dumps(sorted((name(k), name(v)) for k, v in convention.items()))


def write_index(
    history: str,
    *,
    revision_ids: Iterable[str],
    imported: Iterable[Path],
    state_file: Path,
    tables: Mapping[str, str | None] | None,
    convention: str | None = None,
) -> None:
    also = [str(path) for path in imported]
    record = {
        "convention": convention,
        "revision_ids": list(revision_ids),
        "also": also,
        "also_digest": _files_digest(also),
        "state_file": str(state_file),
        "tables": None if tables is None else dict(tables),
    }
    path = _index_path(history)
    if write_cache(path, json.dumps(record)):
        prune(path.parent, "*.index.json", KEEP_INDEXES)


def read_index(history: str) -> HistoryIndex | None:
    """The index of an unchanged history whose imported project modules are unchanged too."""
    try:
        record = json.loads(_index_path(history).read_text(encoding="utf-8"))
        if _files_digest(record["also"]) != record["also_digest"]:
            return None
        return HistoryIndex(
            tuple(record["revision_ids"]),
            record["state_file"],
            record["tables"],
            record.get("convention"),
        )
    except Exception:
        return None


def unchanged_history(settings: Settings) -> HistoryIndex | None:
    """The index of the migration history, if its files are as they were at an earlier check."""
    if settings.database_plugins():  # they compare what no cached answer records
        return None
    digest = history_digest(settings)
    return None if digest is None else read_index(digest)


def model_fingerprints(
    settings: Settings, metadata: MetaData | tuple[MetaData, ...]
) -> dict[str, str | None] | None:
    """:func:`fingerprints` of the models' tables, for the project's dialect."""
    return fingerprints(
        model_tables(metadata), project_dialect(settings), model_sequences(metadata)
    )


def known_in_sync(
    settings: Settings,
    metadata: MetaData | tuple[MetaData, ...],
    index: HistoryIndex,
    *,
    models: Mapping[str, str | None] | None = None,
) -> bool:
    """True when every table's pair of fingerprints (``metadata``'s, or ``models`` when given,
    and the unchanged history's) was found equal before: the models match the history, with
    nothing to compare."""
    context = context_key(settings)
    if context is None or index.tables is None or not index.fits(metadata):
        return False
    if models is None:
        models = model_fingerprints(settings, metadata)
    if models is None:
        return False
    known = KnownPairs.load(context)
    keys = pair_keys(context, models, index.tables)
    return all(key is not None and key in known for key in keys.values())
