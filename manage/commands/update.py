"""``makemigrations --update``: fold new model changes into the latest migration while no
database has applied it (Django's ``makemigrations --update``)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from pathlib import Path

from alembic.util import to_tuple

from manage.core.check import pipeline
from manage.core.database import connect, database_exists, shadow_connection
from manage.core.discovery import include_object_filter, load_metadata
from manage.core.formatting import format_migration
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.questions import Questioner
from manage.core.replay import UnreplayableError, hand_written_steps
from manage.core.revisions import Operation
from manage.core.settings import Settings
from manage.core.writing import in_scratch, publish
from manage.errors import DatabaseError, MigrationError


@dataclasses.dataclass(frozen=True, slots=True)
class Updated:
    """The rewritten latest migration."""

    revision: str | None
    """The new id, or None when the models add nothing to the latest migration."""
    path: Path | None
    replaced: Path
    operations: tuple[Operation, ...]
    checked: str | None = None
    """The (password-masked) URL of the database checked for having applied it; None when
    its SQLite file does not exist yet."""


def update_latest(
    settings: Settings, *, name: str | None = None, questioner: Questioner | None = None
) -> Updated:
    """Rewrite the latest migration so that it also holds the models' new changes.

    The latest migration is compared anew from its parent, so its operations and the new ones
    become one set (an added column changed again is still one ``add_column``).

    Raises:
        MigrationError: there is no migration, the latest is a merge or holds hand-written
            steps, or the configured database has applied it or cannot be checked.
    """
    env = MigrationEnvironment(settings)
    head = env.single_head()
    if head is None:
        raise MigrationError(
            "There is no migration to update yet. Run 'manage makemigrations' without --update."
        )
    script = env.script.get_revision(head)
    assert script is not None
    path = Path(script.path)
    where = env.relative(path)
    parents = to_tuple(script.down_revision) or ()
    if len(parents) > 1:
        raise MigrationError(
            f"The latest migration {head} is a merge; --update folds changes into a migration "
            "with one parent. Run 'manage makemigrations' without --update."
        )
    text = path.read_text(encoding="utf-8")
    if hand_written_steps(text):  # manage's own enum-type statements are rewritten anew
        raise MigrationError(
            f"The latest migration {where} runs SQL or reads data (op.execute or op.get_bind), "
            "which --update would lose when it writes the migration anew. Run "
            "'manage makemigrations' without --update."
        )
    checked = _refuse_if_applied(env, settings, head, parents[0] if parents else "zero")
    questioner = _with_recorded_answers(questioner or Questioner(), text)
    metadata = load_metadata(settings)
    try:
        pending = pipeline.check(
            settings, through=pipeline.IN_MEMORY, environment=lambda: env, metadata=metadata
        )
    except UnreplayableError:
        pass  # the shadow database below finds out
    else:
        if pending is not None and not pending.operations:
            return Updated(None, None, path, (), checked)
    with (
        tempfile.TemporaryDirectory(prefix="manage-update-") as scratch,
        in_scratch(settings.project_root, settings.migrations_dir),
    ):
        earlier = Path(scratch) / "migrations"
        shutil.copytree(
            settings.migrations_dir, earlier, ignore=shutil.ignore_patterns("__pycache__")
        )
        (earlier / path.name).unlink()
        out = Path(scratch) / "out"
        out.mkdir()
        parent_env = MigrationEnvironment(
            dataclasses.replace(settings, migrations_dir=earlier), extra_version_location=out
        )
        with shadow_connection(settings) as (connection, rollback):
            generated = parent_env.compare_with_history(
                connection,
                metadata,
                include_object=include_object_filter(settings),
                name=name,
                write_to=out,
                rollback=rollback,
                questioner=questioner,
            )
        if generated.path is None:
            return Updated(None, None, path, (), checked)
        target = settings.migrations_dir / generated.path.name
        format_migration(generated.path, project_root=settings.project_root, as_path=target)
        # The new file first, then the old one goes: a full disk changes nothing.
        publish(
            {target: generated.path.read_text(encoding="utf-8")},
            replaces=[path],
            root=settings.project_root,
        )
    return Updated(generated.revision_id, target, path, generated.operations, checked)


_RECORDED_RENAME = re.compile(r"^- .* \(--rename (\S+)=(\S+)\)$", re.MULTILINE)


def _with_recorded_answers(questioner: Questioner, text: str) -> Questioner:
    """``questioner`` that also knows the renames answered when the latest migration was
    written (its docstring records them), so that writing it anew keeps them; an answer given
    now wins."""
    docstring = text.split('"""', 2)[1] if text.count('"""') >= 2 else ""
    recorded = dict(_RECORDED_RENAME.findall(docstring))
    if not recorded:
        return questioner
    return dataclasses.replace(questioner, renames={**recorded, **questioner.renames})


def _refuse_if_applied(
    env: MigrationEnvironment, settings: Settings, head: str, parent: str
) -> str | None:
    if not database_exists(settings.database_url):
        return None  # a SQLite file not created yet has applied nothing
    try:
        with connect(settings.database_url) as connection:
            current = env.current(connection)
    except DatabaseError as exc:
        raise MigrationError(
            f"--update rewrites {head} only if the database has not applied it, and the database "
            f"cannot be checked: {exc} Or run 'manage makemigrations' without --update."
        ) from exc
    if head in env.applied(current):
        raise MigrationError(
            f"{head} is already applied to the database at {settings.display_url}, so --update "
            f"would change a migration that has run. Run 'manage makemigrations' without "
            f"--update, or first unapply it with 'manage migrate {parent}'."
        )
    return settings.display_url
