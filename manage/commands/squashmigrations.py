"""Replace a run of migrations by one equivalent migration (Django's ``squashmigrations``)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from alembic.operations import ops
from sqlalchemy import MetaData, UniqueConstraint

from manage.core.check import pipeline
from manage.core.database import shadow_connection
from manage.core.discovery import include_object_filter, load_metadata
from manage.core.drivers import on_driver
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import Revision
from manage.core.replay import UnreplayableError, hand_written_steps, own_enum_sql
from manage.core.settings import Settings
from manage.core.writing import in_scratch, publish
from manage.errors import MigrationError


@dataclasses.dataclass(frozen=True, slots=True)
class SquashResult:
    """The squashed migration and what it replaced."""

    revision: str | None
    """The squashed migration's id: END's id, so databases at END or later keep working.
    None when the user declined."""
    path: Path | None
    replaced: tuple[str, ...]
    kept_in: Path | None = None
    """With ``keep``: the folder (not loaded) that holds the replaced files."""
    warnings: tuple[str, ...] = ()


def _always(_question: str) -> bool:
    return True


@on_driver
def squashmigrations(
    settings: Settings,
    end: str,
    start: str | None = None,
    *,
    keep: bool = False,
    confirm: Callable[[str], bool] = _always,
) -> SquashResult:
    """Replace the migrations from ``start`` (default: the first) to ``end`` by one.

    The new migration is written by comparing the schema the history builds at ``end`` with the
    one at ``start``'s parent, both replayed into shadow databases. It keeps ``end``'s revision
    id and file name and lists the ids it replaces in ``replaces``, so a database at ``end`` or
    later needs nothing, and one stopped inside the range gets a message saying what to do.

    Raises:
        MigrationError: the range builds on migrations of two branches, a migration outside
            it branches off inside it, or it has fewer than two migrations.
    """
    env = MigrationEnvironment(settings)
    env.single_head()
    history = {r.id: r for r in env.history()}
    if "base" in (env.resolve(end), env.resolve(start) if start else None):
        raise MigrationError(
            "squashmigrations replaces migrations, and 'zero' is the state before the first "
            "one: give migration ids, e.g. 'manage squashmigrations 0004' to squash from the "
            "first migration to 0004 (START defaults to the first)."
        )
    end_id = env.resolve(end)
    chain, parent = _chain(env, history, end_id, env.resolve(start) if start else None)
    ids = tuple(r.id for r in chain)
    if not confirm(
        f"Squash {len(ids)} migrations ({ids[0]} .. {ids[-1]}) into one with the id {end_id}?"
    ):
        return SquashResult(None, None, ids)
    warnings = tuple(_data_steps(env, ids))
    end_path = history[end_id].path
    with (
        tempfile.TemporaryDirectory(prefix="manage-squash-") as scratch,
        in_scratch(settings.project_root, settings.migrations_dir),
    ):
        earlier = Path(scratch) / "migrations"
        earlier.mkdir()
        if parent is not None:
            for rev in env.script.iterate_revisions(parent, "base"):
                shutil.copy2(rev.path, earlier / Path(rev.path).name)
        out = Path(scratch) / "out"
        out.mkdir()
        base_env = MigrationEnvironment(
            dataclasses.replace(settings, migrations_dir=earlier), extra_version_location=out
        )
        target, reflected_why = _target_schema(env, settings, end_id)
        if reflected_why:
            warnings += (
                f"Warning: {reflected_why}, so the squashed migration was written from the "
                f"schema the history builds on {settings.dialect_name}, with the types that "
                "database reflects (e.g. DATETIME, VARCHAR for an enum): check them before "
                "another kind of database runs it.",
            )
        with shadow_connection(settings) as (connection, rollback):
            generated = base_env.compare_with_history(
                connection,
                target,
                include_object=include_object_filter(settings),
                name="squashed",
                write_to=out,
                rollback=rollback,
            )
        if generated.path is None or generated.revision_id is None:
            raise MigrationError(
                f"The migrations {ids[0]} .. {ids[-1]} change no schema, so there is nothing to "
                "squash them into. Delete them instead, or squash a longer range."
            )
        generated_text = generated.path.read_text(encoding="utf-8")
        squashed = Path(scratch) / end_path.name
        squashed.write_text(
            _squashed_text(generated_text, generated.revision_id, end_id, ids), encoding="utf-8"
        )
        from manage.core.formatting import format_migration  # not loaded by migrate

        problems: list[str] = []
        format_migration(
            squashed,
            project_root=settings.project_root,
            on_problem=problems.append,
            as_path=end_path,
        )
        warnings += tuple(f"Warning: {problem}" for problem in problems)
        kept_in = None
        if keep:
            kept_in = settings.migrations_dir / f"squashed_{ids[0][:4]}_{ids[-1][:4]}"
        # The squashed file first, then the originals go: a full disk changes nothing.
        publish(
            {end_path: squashed.read_text(encoding="utf-8")},
            replaces=[history[rev_id].path for rev_id in ids],
            keep_in=kept_in,
            root=settings.project_root,
        )
    return SquashResult(end_id, end_path, ids, kept_in, warnings)


def _chain(
    env: MigrationEnvironment, history: dict[str, Revision], end: str, start: str | None
) -> tuple[list[Revision], str | None]:
    """The migrations from ``start`` (default: the first) to ``end``, parents before children,
    and the one migration they build on (None: the empty database).

    Merges inside the range are squashed with it, as Django does: the range is every migration
    ``end`` needs that ``start``'s parents do not. It must build on one migration only, and no
    migration outside it may branch off inside it.
    """

    def needed(ids: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(ids)
        while stack:
            rev_id = stack.pop()
            if rev_id not in seen:
                seen.add(rev_id)
                stack.extend(history[rev_id].down_revisions)
        return seen

    members = needed([end])
    if start is not None:
        if start not in members:
            raise MigrationError(
                f"{start} does not come before {end} in the history. Give START and END in "
                "the order they apply ('manage showmigrations' lists them)."
            )
        members -= needed(history[start].down_revisions)
    chain = [r for r in env.history() if r.id in members]
    if len(chain) < 2:
        raise MigrationError(
            f"There is only one migration from {chain[0].id} to {end}; squashing needs two or "
            "more. Give an earlier START."
        )
    parents = sorted({p for r in chain for p in r.down_revisions if p not in members})
    if len(parents) > 1:
        raise MigrationError(
            f"The migrations from {chain[0].id} to {end} build on {', '.join(parents)}, on "
            "branches that split before the range; a squashed migration has one parent. Give "
            "a START before the branches split."
        )
    for revision in history.values():
        branching = set(revision.down_revisions) & (members - {end})
        if revision.id not in members and branching:
            raise MigrationError(
                f"{revision.id} branches off {', '.join(sorted(branching))}, inside the range "
                "to squash. Merge or squash up to the branch point only."
            )
    return chain, parents[0] if parents else None


def _data_steps(env: MigrationEnvironment, ids: tuple[str, ...]) -> list[str]:
    """Migrations in the range that run SQL or Python the schema comparison cannot see."""
    found = []
    for rev_id in ids:
        operations = env.operations_of(rev_id)
        script = env.script.get_revision(rev_id)
        text = Path(script.path).read_text(encoding="utf-8") if script else ""
        # manage's own enum-type steps (CREATE/DROP TYPE, ADD VALUE, a recreated type) are
        # schema changes the squashed migration makes anew, not data
        sql = [op for op in operations if isinstance(op, ops.ExecuteSQLOp)]
        if any(not own_enum_sql(op.sqltext) for op in sql) or hand_written_steps(text):
            found.append(
                f"Warning: {rev_id} runs SQL or reads data (op.execute, op.get_bind), which the "
                "squashed migration leaves out: copy that step into it by hand if new "
                "databases need it."
            )
    return found


def _target_schema(
    env: MigrationEnvironment, settings: Settings, end: str
) -> tuple[MetaData | tuple[MetaData, ...], str]:
    """What the squashed migration must build: the models when ``end`` is the head and they
    match the history (their types are portable), else the schema reflected at ``end``, with
    why."""
    if end not in env.script.get_heads():
        return _schema_at(env, settings, end), f"{end} is not the latest migration"
    models = load_metadata(settings)
    try:
        pending = pipeline.check(
            settings, through=pipeline.IN_MEMORY, environment=lambda: env, metadata=models
        )
    except UnreplayableError:
        return _schema_at(env, settings, end), "the history cannot be compared without a database"
    if pending is None or pending.operations:
        return _schema_at(env, settings, end), "the models have changes no migration holds yet"
    return models, ""


def _schema_at(env: MigrationEnvironment, settings: Settings, revision: str) -> MetaData:
    """The schema the history builds at ``revision``, reflected from a shadow database."""
    metadata = MetaData()
    with shadow_connection(settings) as (connection, rollback):
        if rollback:
            connection.begin()
        try:
            env.run(connection, env.plan((), revision), revision, in_transaction=rollback)
            metadata.reflect(connection, only=lambda name, _meta: name != settings.version_table)
            _as_models_would_say(metadata, load_metadata(settings), connection.dialect.name)
        finally:
            if connection.in_transaction():
                connection.rollback()
    return metadata


def _as_models_would_say(
    metadata: MetaData, models: MetaData | tuple[MetaData, ...], dialect: str
) -> None:
    """Drop what reflection adds that models leave to the database: PostgreSQL's
    ``nextval(...)`` defaults of serial columns (the sequence comes with SERIAL) and empty
    dialect options such as ``postgresql_include=[]``. MySQL reflects a unique constraint as
    a unique index: it becomes a constraint again unless the models declare that index."""
    model_indexes = {
        index.name
        for meta in (models if isinstance(models, tuple) else (models,))
        for table in meta.tables.values()
        for index in table.indexes
    }
    for table in metadata.tables.values():
        if dialect in ("mysql", "mariadb"):
            for index in list(table.indexes):
                if index.unique and index.name not in model_indexes:
                    table.indexes.discard(index)
                    table.append_constraint(UniqueConstraint(*index.columns, name=index.name))
        for column in table.columns:
            default = column.server_default
            text = str(getattr(default, "arg", "")) if default is not None else ""
            if column.autoincrement is True and text.startswith("nextval("):
                column.server_default = None
        for index in table.indexes:
            for key, value in list(index.dialect_kwargs.items()):
                if value in ([], (), None, {}):
                    del index.dialect_kwargs[key]


def _squashed_text(text: str, generated_id: str, end_id: str, ids: tuple[str, ...]) -> str:
    """The generated file, given END's id, a docstring naming the range, and ``replaces``."""
    text = text.replace(generated_id, end_id)
    first, _, rest = text.partition("\n")
    title = f'"""Squashed {ids[0]} .. {ids[-1]} ({len(ids)} migrations)'
    text = f"{title}\n{rest}" if first.startswith('"""') else text
    replaces = "".join(f"    {rev_id!r},\n" for rev_id in ids)
    return re.sub(
        r"^(depends_on: .*)$",
        lambda m: (
            f"{m.group(1)}\n\n# The migrations this one replaces (manage squashmigrations). A "
            "database at one of them\n# other than the last reaches the last with the original "
            f"files first.\nreplaces: tuple[str, ...] = (\n{replaces})"
        ),
        text,
        count=1,
        flags=re.MULTILINE,
    )
