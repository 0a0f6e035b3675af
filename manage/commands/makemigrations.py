"""Write a migration for the difference between the models and the migration history."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from manage.core import revisions
from manage.core.database import connect, shadow_database
from manage.core.discovery import include_object_filter, load_metadata
from manage.core.environment import MigrationEnvironment
from manage.core.replay import UnreplayableError
from manage.core.revisions import Operation
from manage.core.settings import Settings
from manage.errors import DatabaseError, MigrationError


@dataclass(frozen=True, slots=True)
class MakeMigrationsResult:
    """What makemigrations found and, unless checking, wrote."""

    revision: str | None
    """The new revision id, or None when there was nothing to do."""
    path: Path | None
    """The migration file (with ``dry_run``/``check``: where it would go)."""
    operations: tuple[Operation, ...] = ()
    written: bool = False
    content: str | None = None
    """With ``dry_run``: the text of the file that would be written."""
    merged: tuple[str, ...] = ()
    """With ``merge``: the heads the merge migration joins."""


def _always(_question: str) -> bool:
    return True


def _ignore(_message: str) -> None:
    return None


def makemigrations(
    settings: Settings,
    *,
    name: str | None = None,
    empty: bool = False,
    check: bool = False,
    dry_run: bool = False,
    merge: bool = False,
    confirm: Callable[[str], bool] = _always,
    on_notice: Callable[[str], None] = _ignore,
) -> MakeMigrationsResult:
    """Compare the models with the schema the migration history builds, and write the difference.

    The history is replayed into a throwaway shadow database of the project's dialect; with
    ``check`` it is replayed in memory instead, needing no database at all (a migration whose
    effect cannot be known without one falls back to the shadow database, with a notice). The
    development database is never read or created.

    Args:
        name: the migration name (``-n``); derived from the operations when omitted.
        empty: write an empty migration to fill in by hand.
        check: write nothing; the caller exits 1 when ``operations`` is not empty.
        dry_run: write nothing; return the file's text in ``content``.
        merge: write a migration joining several heads.
        confirm: asked before writing a merge; answers True when not interactive.
        on_notice: told why a check falls back to a shadow database.
    """
    if name is not None and (problem := revisions.name_problem(name)):
        raise MigrationError(problem)
    write = not (check or dry_run)
    with tempfile.TemporaryDirectory(prefix="manage-dry-run-") as scratch:
        scratch_dir = None if write else Path(scratch)
        env = MigrationEnvironment(settings, extra_version_location=scratch_dir)
        if merge:
            return _merge(env, name, scratch_dir, confirm)
        env.single_head()  # several heads: say so before anything else
        if empty:
            slug = name or revisions.auto_name()
            path = env.write_revision(slug, write_to=scratch_dir)
            return _result(env, path.stem, path, (), written=write)
        metadata = load_metadata(settings)
        include_object = include_object_filter(settings)
        unreplayable: UnreplayableError | None = None
        if check:
            try:
                found = env.check_in_memory(metadata, include_object=include_object, name=name)
            except UnreplayableError as exc:
                on_notice(f"{exc}; comparing against a shadow database instead.")
                unreplayable = exc
            else:
                return _would_write(settings, found.revision_id, found.operations)
        try:
            with (
                shadow_database(settings.database_url, settings.shadow_database_url) as shadow,
                connect(shadow.url) as connection,
            ):
                generated = env.compare_with_history(
                    connection,
                    metadata,
                    include_object=include_object,
                    name=name,
                    write_to=None if check else (scratch_dir or settings.migrations_dir),
                    rollback=shadow.rollback,
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
        if generated.path is None:
            return _would_write(settings, generated.revision_id, generated.operations)
        return _result(env, generated.revision_id, generated.path, generated.operations, write)


def _would_write(
    settings: Settings, revision: str | None, operations: tuple[Operation, ...]
) -> MakeMigrationsResult:
    path = settings.migrations_dir / f"{revision}.py" if revision else None
    return MakeMigrationsResult(revision, path, operations)


def _merge(
    env: MigrationEnvironment,
    name: str | None,
    scratch_dir: Path | None,
    confirm: Callable[[str], bool],
) -> MakeMigrationsResult:
    heads = env.heads()
    if len(heads) < 2:
        return MakeMigrationsResult(None, None)
    slug = name or revisions.merge_name(heads)
    if scratch_dir is None and not confirm(f"Merge {', '.join(heads)}?"):
        return MakeMigrationsResult(None, None, merged=heads)
    path = env.write_revision(
        slug, heads=heads, message=f"Merge {' and '.join(heads)}", write_to=scratch_dir
    )
    return _result(env, path.stem, path, (), written=scratch_dir is None, merged=heads)


def _result(
    env: MigrationEnvironment,
    revision: str | None,
    path: Path,
    operations: tuple[Operation, ...],
    written: bool,
    merged: tuple[str, ...] = (),
) -> MakeMigrationsResult:
    if written:
        return MakeMigrationsResult(revision, path, operations, True, merged=merged)
    content = path.read_text(encoding="utf-8")
    return MakeMigrationsResult(
        revision, env.migrations_dir / path.name, operations, False, content, merged
    )
