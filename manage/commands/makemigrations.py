"""Write a migration for the difference between the models and the migration history."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manage.core import revisions
from manage.core.check import pipeline
from manage.core.drivers import on_driver
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.revisions import Operation
from manage.core.settings import Settings
from manage.errors import MigrationError, UsageError

if TYPE_CHECKING:
    from manage.core.questions import Questioner


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
    replaced: Path | None = None
    """With ``update``: the latest migration's file before it was rewritten."""
    sql_files: tuple[Path, ...] = ()
    """With ``empty`` and ``sql``: the SQL files the migration runs."""
    checked: str | None = None
    """With ``update``: the only database checked for having applied the latest migration."""


def _always(_question: str) -> bool:
    return True


def _ignore(_message: str) -> None:
    return None


@on_driver
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
    questioner: Questioner | None = None,
    update: bool = False,
    sql: bool = False,
    sql_dialects: tuple[str, ...] = (),
    plain_ddl: bool = False,
) -> MakeMigrationsResult:
    """Compare the models with the schema the migration history builds, and write the difference.

    The history is replayed in memory first, needing no database at all: that answers
    ``check``, and "no changes" for the others. A migration to write is generated against the
    history replayed into a throwaway shadow database of the project's dialect (as is a check
    whose history cannot be replayed in memory, with a notice). The development database is
    never read or created.

    Args:
        name: the migration name (``-n``); derived from the operations when omitted.
        empty: write an empty migration to fill in by hand.
        check: write nothing; the caller exits 1 when ``operations`` is not empty.
        dry_run: write nothing; return the file's text in ``content``.
        merge: write a migration joining several heads.
        confirm: asked before writing a merge; answers True when not interactive.
        on_notice: told why a check falls back to a shadow database.
        questioner: answers the questions about renames and one-off defaults; by default
            nothing is asked, renames are drops and adds, and a needed default is an error.
        update: fold the changes into the latest migration instead, if no database has
            applied it (``update.update_latest``).
        sql: with ``empty``, a migration whose upgrade and downgrade run ``.sql`` files
            beside it (``manage.sqlfiles``); one pair per name in ``sql_dialects`` if given.
        plain_ddl: write Alembic's plain operations, not the lock-light forms the
            ``safe_ddl`` setting asks for (docs/zero-downtime.md).
    """
    if plain_ddl:
        settings = dataclasses.replace(settings, safe_ddl=False)
    if name is not None and (problem := revisions.name_problem(name)):
        raise MigrationError(problem)
    answered = questioner is not None and bool(questioner.renames or questioner.defaults)
    if conflict := flag_conflict(
        check=check, dry_run=dry_run, empty=empty, merge=merge, update=update, sql=sql,
        sql_dialects=sql_dialects, answered=answered,
    ):  # fmt: skip
        raise UsageError(conflict)
    if not (check or dry_run):  # issue 13: never into an installed copy of the project
        from manage.light.installed import installed_problem

        folder = settings.migrations_dir
        try:
            shown = str(folder.relative_to(settings.project_root))
        except ValueError:
            shown = str(folder)
        if problem := installed_problem(folder, shown):
            raise MigrationError(problem)
    if update:
        from manage.commands.update import update_latest

        updated = update_latest(settings, name=name, questioner=questioner)
        return MakeMigrationsResult(
            updated.revision, updated.path, updated.operations, updated.path is not None,
            replaced=updated.replaced, checked=updated.checked,
        )  # fmt: skip
    write = not (check or dry_run)
    from manage.core.writing import in_scratch

    with (
        tempfile.TemporaryDirectory(prefix="manage-dry-run-") as scratch,
        in_scratch(settings.project_root, settings.migrations_dir),
    ):
        # Written in a scratch folder, then put in place whole (core/writing.py): a full disk
        # leaves the migrations folder as it was.
        scratch_dir = Path(scratch)
        if merge or empty:
            env = MigrationEnvironment(settings, extra_version_location=scratch_dir)
            if merge:
                return _merge(env, name, scratch_dir, confirm, write=write)
            env.single_head()  # several heads: say so before anything else
            slug = name or revisions.auto_name()
            path = env.write_revision(slug, write_to=scratch_dir)
            sql_files = _sql_migration(path, sql_dialects) if sql else ()
            result = _result(
                env, path.stem, path, (), written=write, on_notice=on_notice, also=sql_files
            )
            # where they go, not the scratch folder about to be deleted
            sql_files = tuple(env.migrations_dir / f.name for f in sql_files)
            return dataclasses.replace(result, sql_files=sql_files)
        made: list[MigrationEnvironment] = []

        def environment() -> MigrationEnvironment:  # only when a tier needs the history loaded
            made.append(MigrationEnvironment(settings, extra_version_location=scratch_dir))
            return made[0]

        # Every tier of the check, and of "nothing to write", in one place (core/check/pipeline).
        generated = pipeline.check(
            settings,
            name=name,
            environment=environment,
            write_to=None if check else scratch_dir,
            questioner=questioner or _no_questions(),
            on_notice=on_notice,
        )
        assert generated is not None  # every tier asked: one answers
        if generated.path is None:
            return _would_write(settings, generated.revision_id, generated.operations)
        # No warning about unnamed constraints: the migration names them (core/runnable.py).
        return _result(
            made[0],
            generated.revision_id,
            generated.path,
            generated.operations,
            write,
            on_notice=on_notice,
        )


def flag_conflict(
    *,
    check: bool = False,
    dry_run: bool = False,
    empty: bool = False,
    merge: bool = False,
    update: bool = False,
    sql: bool = False,
    sql_dialects: tuple[str, ...] = (),
    answered: bool = False,
) -> str | None:
    """Why these options cannot go together (a usage error), or None."""
    if update and (check or dry_run or empty or merge or sql):
        return "--update cannot be combined with --check, --dry-run, --empty, --merge or --sql."
    if sql and not empty:
        return (
            "--sql writes a migration that runs .sql files, so it needs --empty: "
            "run 'manage makemigrations --empty --sql -n NAME'."
        )
    if sql_dialects and not sql:
        return (
            "--dialect names the dialects of the .sql files that --sql writes: run "
            "'manage makemigrations --empty --sql --dialect NAME -n NAME'."
        )
    if answered and (empty or merge):
        return (
            "--rename and --default answer questions about model changes; "
            f"{'--empty' if empty else '--merge'} writes a migration without them, so it "
            "asks none. Leave them out."
        )
    return None


_SQL_HEADER = """-- {direction} of migration {revision}{where}.
-- Statements end with ';'. This file runs when you apply{unapply} the migration.
"""


def _sql_migration(path: Path, dialects: tuple[str, ...]) -> tuple[Path, ...]:
    """Turn the empty migration at ``path`` into one that runs the SQL files beside it."""
    text = path.read_text(encoding="utf-8")
    for direction in ("upgrade", "downgrade"):
        text = text.replace(
            f"def {direction}() -> None:\n    pass",
            f'def {direction}() -> None:\n    run_sql_file(__file__, "{direction}")',
        )
    text = text.replace(
        "from alembic import op\n",
        "from alembic import op\n\nfrom manage.sqlfiles import run_sql_file\n",
        1,
    )
    path.write_text(text, encoding="utf-8")
    written = []
    for dialect in dialects or (None,):
        for direction in ("upgrade", "downgrade"):
            middle = f".{dialect}" if dialect else ""
            sql_path = path.with_name(f"{path.stem}{middle}.{direction}.sql")
            sql_path.write_text(
                _SQL_HEADER.format(
                    direction=direction.capitalize(),
                    revision=path.stem,
                    where=f" on {dialect}" if dialect else "",
                    unapply="" if direction == "upgrade" else " (unapply)",
                ).replace("apply (unapply)", "unapply"),
                encoding="utf-8",
            )
            written.append(sql_path)
    return tuple(written)


def _would_write(
    settings: Settings, revision: str | None, operations: tuple[Operation, ...]
) -> MakeMigrationsResult:
    path = settings.migrations_dir / f"{revision}.py" if revision else None
    return MakeMigrationsResult(revision, path, operations)


def _merge(
    env: MigrationEnvironment,
    name: str | None,
    scratch_dir: Path,
    confirm: Callable[[str], bool],
    *,
    write: bool,
) -> MakeMigrationsResult:
    heads = env.heads()
    if len(heads) < 2:
        return MakeMigrationsResult(None, None)
    slug = name or revisions.merge_name(heads)
    if write and not confirm(f"Merge {', '.join(heads)}?"):
        return MakeMigrationsResult(None, None, merged=heads)
    path = env.write_revision(
        slug, heads=heads, message=f"Merge {' and '.join(heads)}", write_to=scratch_dir
    )
    return _result(env, path.stem, path, (), written=write, merged=heads)


def _result(
    env: MigrationEnvironment,
    revision: str | None,
    path: Path,
    operations: tuple[Operation, ...],
    written: bool,
    merged: tuple[str, ...] = (),
    on_notice: Callable[[str], None] = _ignore,
    also: tuple[Path, ...] = (),
) -> MakeMigrationsResult:
    """Format the migration at ``path`` (in the scratch folder) and, when ``written``, put it
    and the files ``also`` in the migrations folder, all or none."""
    from manage.core.formatting import format_migration
    from manage.core.writing import publish

    target = env.migrations_dir / path.name
    format_migration(
        path,
        project_root=env.settings.project_root,
        fix=bool(operations or merged),
        on_problem=on_notice,
        as_path=target,
    )
    content = path.read_text(encoding="utf-8")
    if written:
        files = {target: content}
        files.update({env.migrations_dir / f.name: f.read_text(encoding="utf-8") for f in also})
        publish(files, root=env.settings.project_root)
        return MakeMigrationsResult(revision, target, operations, True, merged=merged)
    return MakeMigrationsResult(revision, target, operations, False, content, merged)


def _no_questions() -> Questioner:
    """Nothing is asked: renames are drops and adds, a needed default is an error."""
    from manage.core.questions import Questioner

    return Questioner()
