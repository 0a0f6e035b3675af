"""The schema at any revision, without a database: its DDL, what changed between two revisions,
which migrations made a table or column, and a Mermaid diagram (``manage schema``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manage.core.revisions import Operation, describe
from manage.core.settings import Settings
from manage.errors import UsageError

if TYPE_CHECKING:
    from manage.core.schema.replayed import Replayed, SchemaHistory

# manage.core.schema is imported when a view is asked for: `manage migrate` imports this
# module (manage.commands imports every command) and must not pay for it.


@dataclass(frozen=True, slots=True)
class SchemaSql:
    """The DDL that creates the schema at a revision on an empty database."""

    revision: str
    """The resolved revision id, or ``zero`` (before the first migration)."""
    dialect: str
    statements: tuple[str, ...]
    """Each statement without its ``;``, in the order to run them."""
    warnings: tuple[str, ...] = ()
    """One sentence per migration whose effect the replay could not follow: the schema may
    lack it (a raw ``op.execute`` DDL, a migration that needs rows)."""

    @property
    def sql(self) -> str:
        """The statements as a script: each ends with ``;``, a blank line between them."""
        return "".join(f"{statement};\n\n" for statement in self.statements).removesuffix("\n")


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """What changed from the schema at ``old`` to the schema at ``new``."""

    old: str
    new: str
    dialect: str
    operations: tuple[Operation, ...]
    """In makemigrations' wording; renames the history made between the two are renames."""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BlameEntry:
    """One migration that touched the table or column, and what it did to it."""

    revision: str
    path: Path
    operations: tuple[Operation, ...]
    created: bool
    """This migration created the table or column."""
    written: dt.datetime | None
    """The ``Create Date:`` line of the file (None when it has none)."""
    committed: dt.datetime | None
    """The author date of the git commit that added the file (None outside git, or not
    committed yet)."""


@dataclass(frozen=True, slots=True)
class SchemaBlame:
    """The migrations that created and changed a table or column, oldest first."""

    revision: str
    table: str
    column: str | None
    entries: tuple[BlameEntry, ...]
    warnings: tuple[str, ...] = ()

    @property
    def created_by(self) -> BlameEntry | None:
        """None when no migration of the history created it (the bootstrap did)."""
        return self.entries[0] if self.entries and self.entries[0].created else None

    @property
    def last_changed_by(self) -> BlameEntry | None:
        return self.entries[-1] if self.entries else None


@dataclass(frozen=True, slots=True)
class SchemaDiagram:
    """The schema at a revision as a Mermaid ``erDiagram``."""

    revision: str
    dialect: str
    mermaid: str
    warnings: tuple[str, ...] = ()


def schema(
    settings: Settings,
    *revisions: str,
    dialect: str | None = None,
    diff: bool = False,
    blame: str | None = None,
    mermaid: bool = False,
) -> SchemaSql | SchemaDiff | SchemaBlame | SchemaDiagram:
    """The schema the migration history builds at a revision (default ``head``), replayed in
    memory: no database is opened.

    Args:
        revisions: one revision (two with ``diff``; none there for a history with two heads):
            ``head``, ``zero``, an id or a unique prefix, a migration's name without its number,
            a branch label (its head).
        dialect: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb`` (default: the project's).
        diff: what changed between the two ``revisions`` (:func:`schema_diff`).
        blame: ``TABLE`` or ``TABLE.COLUMN``: the migrations that made it (:func:`schema_blame`).
        mermaid: a Mermaid diagram (:func:`schema_diagram`) instead of the DDL (:func:`schema_sql`).

    Raises:
        UsageError: options that do not go together, a wrong number of revisions, an unknown
            dialect.
        RevisionNotFoundError: a revision matches no migration.
        SchemaLookupError: ``blame`` names a table or column the schema lacks.
    """
    if sum((diff, blame is not None, mermaid)) > 1:
        raise UsageError(
            "--diff, --blame and --mermaid are separate views of the schema: give one of them."
        )
    if diff:
        if not revisions:  # a history with two heads: the two branches
            revisions = _two_heads(settings) or revisions
        if len(revisions) != 2:
            raise UsageError(
                f"--diff compares two revisions and got {len(revisions)}: give both, e.g. "
                "'manage schema --diff 0001 head'."
            )
        return schema_diff(settings, revisions[0], revisions[1], dialect=dialect)
    if len(revisions) > 1:
        raise UsageError(
            f"manage schema shows one revision and got {len(revisions)} "
            f"({', '.join(revisions)}): give one, or add --diff to compare two."
        )
    revision = revisions[0] if revisions else "head"
    if blame is not None:
        return schema_blame(settings, blame, revision, dialect=dialect)
    if mermaid:
        return schema_diagram(settings, revision, dialect=dialect)
    return schema_sql(settings, revision, dialect=dialect)


def _two_heads(settings: Settings) -> tuple[str, ...] | None:
    from manage.core.schema.replayed import SchemaHistory

    heads = SchemaHistory(settings).env.heads()
    return heads if len(heads) == 2 else None


def _replayed(
    settings: Settings, revision: str, dialect: str | None
) -> tuple[SchemaHistory, Replayed, str]:
    from manage.core.schema.replayed import SchemaHistory, check_dialect

    name = check_dialect(dialect, settings)
    history = SchemaHistory(settings)
    return history, history.replay(history.resolve(revision), name), name


def schema_sql(
    settings: Settings, revision: str = "head", *, dialect: str | None = None
) -> SchemaSql:
    """The DDL that creates the schema at ``revision`` for ``dialect`` (default: the project's)
    on an empty database: PostgreSQL's enum types, tables, comments, indexes."""
    from manage.core.schema.ddl import create_statements, offline_dialect

    history, replayed, name = _replayed(settings, revision, dialect)
    statements = create_statements(replayed.state, offline_dialect(name))
    return SchemaSql(history.label(replayed.revision), name, tuple(statements), replayed.gaps)


def schema_diagram(
    settings: Settings, revision: str = "head", *, dialect: str | None = None
) -> SchemaDiagram:
    """The schema at ``revision`` as a Mermaid ``erDiagram``, with ``dialect``'s types."""
    from manage.core.schema.ddl import offline_dialect
    from manage.core.schema.mermaid import diagram

    history, replayed, name = _replayed(settings, revision, dialect)
    text = diagram(replayed.state, offline_dialect(name))
    return SchemaDiagram(history.label(replayed.revision), name, text, replayed.gaps)


def schema_diff(
    settings: Settings, old: str, new: str, *, dialect: str | None = None
) -> SchemaDiff:
    """What changed from the schema at ``old`` to the schema at ``new`` (either may be the
    later one, or both heads of branches), as the operations Alembic's comparison finds. When
    one revision leads to the other, the tables and columns the migrations between them
    renamed are shown as renamed, not dropped and added."""
    from manage.core.schema.diff import changes, net_renames
    from manage.core.schema.replayed import SchemaHistory, check_dialect

    name = check_dialect(dialect, settings)
    history = SchemaHistory(settings)
    first, second = history.resolve(old), history.resolve(new)
    forwards = history.is_ancestor(first, second)
    if forwards or history.is_ancestor(second, first):
        older, newer = (first, second) if forwards else (second, first)
        start = history.replay(older, name)
        watched = history.watch(newer, name)
        before = {s.revision for s in history.scripts_to(older)}
        between = [
            op
            for script in watched.scripts
            if script.revision not in before
            for op in watched.steps.get(script.revision, [])
        ]
        renames = net_renames(start.state, between, backwards=not forwards)
        from_, to = (start, watched) if forwards else (watched, start)
    else:
        from_, to, renames = history.replay(first, name), history.replay(second, name), []
    found = changes(from_, to, name, settings.version_table, renames)
    return SchemaDiff(
        history.label(first),
        history.label(second),
        name,
        tuple(describe(found)),
        tuple(dict.fromkeys([*from_.gaps, *to.gaps])),
    )


def schema_blame(
    settings: Settings, target: str, revision: str = "head", *, dialect: str | None = None
) -> SchemaBlame:
    """The migrations that created and changed ``target`` (``TABLE`` or ``TABLE.COLUMN``) up
    to ``revision``, oldest first, found by replaying the history migration by migration.

    Raises:
        SchemaLookupError: the schema at ``revision`` has no such table or column.
    """
    if not target.strip():
        raise UsageError("--blame needs a table: give TABLE or TABLE.COLUMN, e.g. book.title.")
    from alembic.operations import ops

    from manage.core.schema import blame as blaming
    from manage.core.schema.replayed import SchemaHistory, check_dialect

    name = check_dialect(dialect, settings)
    history = SchemaHistory(settings)
    replayed = history.watch(history.resolve(revision), name)
    table, column = blaming.find(replayed, target)
    paths = {s.revision: Path(s.path) for s in replayed.scripts}
    entries = []
    for touch in blaming.touches(replayed, table, column):
        path = paths[touch.revision]
        dates = blaming.file_dates(path)
        described = tuple(describe(ops.UpgradeOps(list(touch.operations))))
        when = (dates.written, dates.committed)
        entries.append(BlameEntry(touch.revision, path, described, touch.created, *when))
    return SchemaBlame(
        history.label(replayed.revision), table.key, column, tuple(entries), replayed.gaps
    )
