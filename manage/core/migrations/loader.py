"""Load the migration history (every migration file, once), resolve revisions and plan steps."""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import util as alembic_util
from alembic.config import Config
from alembic.operations import ops
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError, RevisionMap
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.ddl import CreateSchema

from manage.core import revisions
from manage.core.bytecode import compiled_in
from manage.core.database import driver_message
from manage.core.migrations import files as migration_files
from manage.core.migrations.diagnostics import _rights_fix, _sentence
from manage.core.migrations.types import BASE, TEMPLATES_DIR, Direction, Revision, Step
from manage.core.settings import Settings, cache_dir
from manage.errors import (
    DatabaseError,
    MigrationError,
    MultipleHeadsError,
    RevisionNotFoundError,
    UsageError,
    check_the_target,
)
from manage.light.history import current_heads, version_query


class MigrationLoader:
    """The project's migration history, each file imported once: its revisions and heads, the
    versions a database is at, and the steps from there to a target (Django's loader).

    Args:
        settings: the project.
        extra_version_location: a second folder to write a revision into (``--dry-run``).
        metadata: the models' MetaData, when already loaded (else loaded when first needed).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        extra_version_location: Path | None = None,
        metadata: MetaData | tuple[MetaData, ...] | None = None,
    ) -> None:
        self.settings = settings
        self._metadata = metadata
        self.migrations_dir = settings.migrations_dir
        if self.migrations_dir.exists() and not self.migrations_dir.is_dir():
            raise MigrationError(
                f"The migrations setting points at '{self.migrations_dir}', which is a file. "
                "Point it at a folder."
            )
        if self.migrations_dir.is_dir() and not os.access(self.migrations_dir, os.R_OK | os.X_OK):
            raise MigrationError(
                f"Cannot read the migrations folder {self.relative(self.migrations_dir)}/: "
                "permission denied. Let the user running manage read it (e.g. chmod u+rx "
                f"{self.relative(self.migrations_dir)}), or point the migrations setting at a "
                "folder it can read."
            )
        template_dir = (
            self.migrations_dir
            if (self.migrations_dir / "script.py.mako").is_file()
            else TEMPLATES_DIR
        )
        self.config = Config()
        self.config.set_main_option("script_location", str(template_dir))
        locations = [str(self.migrations_dir)]
        if extra_version_location is not None:
            locations.append(str(extra_version_location))
        self.script = ScriptDirectory(
            template_dir,
            file_template="%(rev)s",
            version_locations=locations,
            messaging_opts={"quiet": True},
        )
        self._scripts = self._load_scripts()
        loaded = self._scripts
        self.script.revision_map = RevisionMap(lambda: iter(loaded))
        try:
            self.script.revision_map.heads  # noqa: B018 - builds the map: cycles, labels
        except (RevisionError, KeyError) as exc:
            raise MigrationError(
                f"The migration history in {self.relative(self.migrations_dir)}/ is inconsistent: "
                f"{_sentence(exc)}. Fix the down_revision, depends_on or branch_labels of the "
                "migrations it names."
            ) from exc

    # -- the history --------------------------------------------------------------------------

    def target_metadata(self) -> MetaData | tuple[MetaData, ...]:
        """The models' MetaData, Alembic's ``target_metadata`` for every run, as a project's own
        env.py passes it: operations name constraints and indexes a migration leaves unnamed
        by the models' naming convention (``op.create_unique_constraint(None, ...)``).

        Raises:
            DiscoveryError: the models do not import.
        """
        if self._metadata is None:
            from manage.core.discovery import load_metadata

            self._metadata = load_metadata(self.settings)
        return self._metadata

    def naming_convention(self) -> dict[Any, Any]:
        """The naming convention Alembic's operations apply (:func:`insync.naming_convention` of
        :meth:`target_metadata`), remembered as a check's answer is: while nothing the process
        read before and while importing the models (their modules, the files and folders they
        read, the environment variables they read, ``pyproject.toml``, ``.env``) has changed, a
        fast-forward and ``manage schema`` need not import them (a third of a fresh migrate at
        300 tables). Only the console script records its reads (``manage.launcher``), so only
        it remembers; only a convention of plain text is kept (not keys such as ``Index`` or
        callables).
        """
        from manage.core import answers, insync
        from manage.light import reads
        from manage.light.start import STARTED_NS

        settings = self.settings
        names = [settings.models] if isinstance(settings.models, str) else settings.models
        key = None
        if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
            key = repr((tuple(names), settings.imports))
        root = settings.project_root
        ignored = _written_by_migrate(settings)
        if self._metadata is None and key is not None:
            known = answers.remembered_convention(root, key, ignored=ignored)
            if known is not None:
                return known
        convention = insync.naming_convention(self.target_metadata())
        plain = all(isinstance(k, str) and isinstance(v, str) for k, v in convention.items())
        if key is not None and plain and reads.active():
            answers.remember_convention(
                root,
                self.migrations_dir,
                key,
                convention,
                started_ns=STARTED_NS,
                ignored=ignored,
            )
        return convention

    def configure_options(self) -> dict[str, Any]:
        """What every ``EnvironmentContext.configure`` of this project passes: the version
        table (and its schema, issue 16) and batch mode."""
        return {
            "version_table": self.settings.version_table,
            "version_table_schema": self.settings.version_table_schema,
            "render_as_batch": self.settings.render_as_batch,
        }

    def _load_scripts(self) -> list[Script]:
        """Import every migration file once, turning each kind of breakage into one message."""
        # Compiled migrations are cached outside the project (a check writes nothing there),
        # never read stale (core/bytecode.py).
        modules_before = set(sys.modules)
        with compiled_in(cache_dir() / "pycache"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # One file at a time, so each error names its file (issue 12 point 11).
            scripts = migration_files.load_scripts(
                [Path(p) for p in self.script.version_locations], self.relative
            )
        new_files = (
            getattr(sys.modules[name], "__file__", None)
            for name in set(sys.modules) - modules_before
        )
        self.imported_by_migrations = sorted(
            Path(file)
            for file in new_files
            if file and Path(file).is_relative_to(self.settings.project_root)
        )
        self._check(scripts)
        return scripts

    def _check(self, scripts: list[Script]) -> None:
        """Duplicate ids, missing functions, and ids that point nowhere, named by file."""
        for script in scripts:  # issue 12 point 4 (safety1): ids Alembic reads as keywords
            where = self.relative(script.path)
            if problem := revisions.reserved_id_problem(script.revision, where, Path(where).stem):
                raise MigrationError(problem)
        by_id: dict[str, list[Script]] = {}
        for script in scripts:
            by_id.setdefault(script.revision, []).append(script)
        for rev_id, same in by_id.items():
            if len(same) > 1:
                files = " and ".join(self.relative(s.path) for s in same)
                raise MigrationError(
                    f"Two migration files have the revision id {rev_id!r}: {files}. "
                    "Give one of them a new revision id (and fix the down_revision that points "
                    "at it), or delete the copy."
                )
        labels = {label for s in scripts for label in s.branch_labels}
        for script in scripts:
            where = self.relative(script.path)
            for function in ("upgrade", "downgrade"):
                if not callable(getattr(script.module, function, None)):
                    raise MigrationError(
                        f"Migration {where} has no {function}() function. "
                        "Add one (its body may be just 'pass')."
                    )
            for down in alembic_util.to_tuple(script.down_revision) or ():
                if down not in by_id:
                    close = difflib.get_close_matches(down, list(by_id), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise MigrationError(
                        f"Migration {where} has down_revision = {down!r}, but no migration has "
                        f"that id{hint}. Point down_revision at an existing migration."
                    )
            for dependency in alembic_util.to_tuple(script.dependencies) or ():
                if dependency not in by_id and dependency not in labels:
                    raise MigrationError(
                        f"Migration {where} has depends_on = {dependency!r}, but no migration "
                        "has that id or branch label. Fix depends_on."
                    )
        if problem := migration_files.cycle_problem(scripts, self.relative):
            raise MigrationError(problem)

    def relative(self, path: str | Path | None) -> str:
        """A path as the user would type it from the project root."""
        if path is None:
            return "?"
        try:
            return str(Path(path).resolve().relative_to(self.settings.project_root))
        except ValueError:
            return str(path)

    def history(self) -> list[Revision]:
        """Every migration, oldest first (parents before children)."""
        heads = set(self.heads())
        ordered = list(self.script.walk_revisions())
        ordered.reverse()
        return [
            Revision(
                id=s.revision,
                down_revisions=tuple(alembic_util.to_tuple(s.down_revision) or ()),
                message=(s.doc or "").strip(),
                path=Path(s.path),
                is_head=s.revision in heads,
            )
            for s in ordered
        ]

    def revision_ids(self) -> list[str]:
        return [s.revision for s in self._scripts]

    def heads(self) -> tuple[str, ...]:
        return tuple(sorted(self.script.get_heads()))

    def single_head(self) -> str | None:
        """The one head (None for an empty history).

        Raises:
            MultipleHeadsError: two branches both continue the history.
        """
        heads = self.heads()
        if len(heads) > 1:
            raise MultipleHeadsError(
                f"Conflicting migrations: the history has several heads ({', '.join(heads)}). "
                "Run 'manage makemigrations --merge' to write a merge migration.",
                heads,
            )
        return heads[0] if heads else None

    def resolve(self, target: str) -> str:
        """Turn ``head``, ``zero``, an id or a unique prefix into a revision id (``base`` = zero).

        Raises:
            RevisionNotFoundError: no migration matches; the message lists the nearest ids.
            MultipleHeadsError: ``head`` with several heads.
            UsageError: ``target`` is empty or blank (a prefix of every id).
        """
        if not target.strip():  # issue 12 point 11
            raise UsageError(
                "The migration name is empty. Give a migration's id or a unique prefix of it "
                "(e.g. 0002); 'manage showmigrations' lists them."
            )
        if target == "zero":
            return BASE
        if target == "head":
            return self.single_head() or BASE
        ids = self.revision_ids()
        if target in ids:
            return target
        matches = [i for i in ids if i.startswith(target)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise RevisionNotFoundError(
                f"Migration {target!r} is ambiguous: it could be {', '.join(sorted(matches))}. "
                "Give more of the id.",
                target,
            )
        raise RevisionNotFoundError(
            f"Unknown migration {target!r}. {self._nearest(target)} "
            "Run 'manage showmigrations' to list them.",
            target,
        )

    def _nearest(self, target: str) -> str:
        ids = self.revision_ids()
        if not ids:
            return "There are no migrations yet."
        wanted = _number(target)
        numbered = {i: n for i in ids if (n := _number(i)) is not None}
        near = difflib.get_close_matches(target, ids, n=3)
        if wanted is not None and numbered and not near:
            near = sorted(numbered, key=lambda i: abs(numbered[i] - wanted))[:3]
        if not near:
            near = [s.revision for s in self.script.walk_revisions()][:3]
        return f"Nearest valid ids: {', '.join(sorted(near))}."

    # -- the database state ---------------------------------------------------------------------

    def _version_schema(self, connection: Connection) -> None:
        """Create the ``version_table_schema`` (PostgreSQL) before Alembic creates the table."""
        if self.settings.version_table_schema and connection.dialect.name == "postgresql":
            connection.execute(CreateSchema(self.settings.version_table_schema, if_not_exists=True))

    def current(self, connection: Connection) -> tuple[str, ...]:
        """The revisions recorded in the version table (empty when there is none)."""
        name, schema = self.settings.version_table, self.settings.version_table_schema
        try:
            heads: tuple[str, ...] | None = ()
            if inspect(connection).has_table(name, schema=schema):  # issue 16: its schema
                quote = connection.dialect.identifier_preparer.quote
                table = ".".join(quote(part) for part in (schema, name) if part)
                rows = connection.execute(text(version_query(table)))
                heads = current_heads(row[0] for row in rows)  # the rule manage.quick reads by
        except DBAPIError as exc:
            fix = (
                _rights_fix(exc, self.settings.dialect_name) or "Check the database user's rights."
            )
            raise DatabaseError(
                f"Could not read {self.settings.version_table} from {self.settings.display_url}: "
                f"{driver_message(exc, self.settings.database_url)}. {fix}"
            ) from None
        finally:
            if connection.in_transaction():
                connection.rollback()
        if heads is None:
            raise DatabaseError(
                f"{self.settings.version_table} in {self.settings.display_url} holds a value "
                "that is not a revision id. Fix or empty the table."
            )
        return heads

    def unknown(self, current: Sequence[str]) -> list[str]:
        """Revisions the database records that no migration file has."""
        ids = set(self.revision_ids())
        return [rev for rev in current if rev not in ids]

    def ensure_known(self, current: Sequence[str]) -> None:
        missing = self.unknown(current)
        for script in self._scripts if missing else ():
            replaces = tuple(getattr(script.module, "replaces", None) or ())
            if missing[0] in replaces:
                raise RevisionNotFoundError(
                    f"The database is at revision {missing[0]!r}, which {script.revision} squashed "
                    f"together with the other migrations from {replaces[0]} to {replaces[-1]}. "
                    f"A database in the middle of a squashed range must first reach "
                    f"{replaces[-1]} with the original migrations: restore them (from version "
                    "control, or from the squashed_* folder that --keep wrote), run "
                    f"'manage migrate {replaces[-1]}', then use the squashed history.",
                    missing[0],
                )
        if missing:
            raise RevisionNotFoundError(
                f"The database is at revision {missing[0]!r}, which is not in "
                f"{self.relative(self.migrations_dir)}/. Restore that migration file (for example "
                "from version control or the branch that added it); if it was removed on purpose, "
                "record a revision that exists with 'manage migrate <id> --fake'.",
                missing[0],
            )

    def applied(self, current: Sequence[str]) -> set[str]:
        """Every revision at or below the recorded ones (that are on disk)."""
        known = [rev for rev in current if rev not in self.unknown(current)]
        if not known:
            return set()
        return {s.revision for s in self.script.iterate_revisions(tuple(known), BASE)}

    def plan(self, current: Sequence[str], target: str) -> list[Step]:
        """The steps from ``current`` to ``target`` (a resolved id or ``base``), Django-style:
        a target behind the current state unapplies."""
        try:
            return self._plan(tuple(current), target)
        except RevisionError as exc:
            raise MigrationError(
                check_the_target(f"Cannot plan a way to {target}: {_sentence(exc)}")
            ) from exc

    def _plan(self, current: tuple[str, ...], target: str) -> list[Step]:
        applied = self.applied(current)
        if target == BASE:
            scripts = list(self.script.iterate_revisions(current, BASE, select_for_downgrade=True))
            return [self._step(s, "unapply") for s in scripts] if current else []
        if target in current:
            return []
        if target in applied:
            return [
                self._step(s, "unapply")
                for s in self.script.iterate_revisions(current, target, select_for_downgrade=True)
            ]
        lower = current or BASE
        scripts = list(self.script.iterate_revisions(target, lower, implicit_base=True))
        return [self._step(s, "apply") for s in reversed(scripts) if s.revision not in applied]

    def created_tables(self, revision: str, dialect_name: str) -> list[str] | None:
        """The tables that ``revision`` creates, read without a database; None unless it is a
        first migration (it has no parent)."""
        from manage.core.replay import record

        script = self.script.get_revision(revision)
        if script is None or script.down_revision is not None:
            return None
        created = record(script, dialect_name)
        return [
            r.operation.table_name for r in created if isinstance(r.operation, ops.CreateTableOp)
        ]

    @staticmethod
    def _step(script: Script, direction: Direction) -> Step:
        return Step(script.revision, direction, Path(script.path))


def _number(revision: str) -> int | None:
    """The number a revision id starts with (its first four characters, all digits), or None.

    ASCII digits only: ``str.isdigit()`` also accepts '²', which ``int()`` refuses.
    """
    head = revision[:4]
    return int(head) if head.isascii() and head.isdigit() else None


def _written_by_migrate(settings: Settings) -> frozenset[str]:
    """The files ``migrate`` itself creates: a SQLite database, its journals and its lock."""
    from manage.core.database import sqlite_file
    from manage.core.locking import LOCK_FILE_SUFFIX

    path = sqlite_file(settings.database_url)
    if path is None:
        return frozenset()
    name = str(path.absolute())
    return frozenset(name + s for s in ("", "-journal", "-wal", "-shm", LOCK_FILE_SUFFIX))
