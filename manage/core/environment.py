"""Alembic driven from code instead of alembic.ini and env.py: every touch of Alembic lives here."""

from __future__ import annotations

import difflib
import io
import linecache
import os
import re
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

from alembic import util as alembic_util
from alembic.autogenerate import RevisionContext, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.operations import BatchOperations, Operations, ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationInfo, RevisionStep
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import ResolutionError, RevisionError, RevisionMap
from sqlalchemy import Enum, MetaData, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.ddl import CreateSchema
from sqlalchemy.types import TypeDecorator

from manage.core import history as migration_history
from manage.core import insync, revisions
from manage.core.compare_plugin import OPTIONS as SERVER_DEFAULTS
from manage.core.compare_plugin import schema_options
from manage.core.database import driver_message
from manage.core.defaults import enum_values_changed
from manage.core.discovery import IncludeObject
from manage.core.redact import redact
from manage.core.replay import (
    SchemaState,
    compare,
    load_state,
    load_tables,
    replay_cached,
    save_tables_apart,
)
from manage.core.runnable import make_runnable
from manage.core.settings import Settings, cache_dir, describe_exception
from manage.errors import (
    DatabaseError,
    DiscoveryError,
    ManageError,
    MigrationError,
    MigrationStoppedError,
    MultipleHeadsError,
    RevisionNotFoundError,
)
from manage.light.signals import Terminated

if TYPE_CHECKING:
    from manage.core.questions import Questioner

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

BASE = "base"
Direction = Literal["apply", "unapply"]


@dataclass(frozen=True, slots=True)
class Step:
    """One migration to apply or unapply."""

    revision: str
    direction: Direction
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration file as the history knows it."""

    id: str
    down_revisions: tuple[str, ...]
    message: str
    path: Path
    is_head: bool


@dataclass(frozen=True, slots=True)
class Generated:
    """The outcome of comparing the models with the history."""

    revision_id: str | None
    operations: tuple[revisions.Operation, ...]
    path: Path | None


class MigrationEnvironment:
    """The project's migration history plus the ways to run it: Flask-Alembic's engine, no files.

    Args:
        settings: the project.
        extra_version_location: a second folder to write a revision into (``--dry-run``).
    """

    def __init__(self, settings: Settings, *, extra_version_location: Path | None = None) -> None:
        self.settings = settings
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

    def _load_scripts(self) -> list[Script]:
        """Import every migration file once, turning each kind of breakage into one message."""
        saved_prefix = sys.pycache_prefix
        # Compiled migrations are cached outside the project: a check must write nothing there.
        sys.pycache_prefix = str(cache_dir() / "pycache")
        modules_before = set(sys.modules)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicates and dangling ids are checked below
                scripts = list(self.script._load_revisions())
        except SyntaxError as exc:
            raise MigrationError(
                f"Migration file {self.relative(exc.filename)} has a syntax error at line "
                f"{exc.lineno}: {exc.msg}. Fix the file."
            ) from exc
        except alembic_util.CommandError as exc:
            raise MigrationError(
                f"{_sentence(exc)}. Fix the file in {self.relative(self.migrations_dir)}."
            ) from exc
        except RevisionError as exc:
            bad = re.search(r"revision identifier '(.*)'", str(exc))
            rev_id = bad.group(1) if bad else "?"
            raise MigrationError(
                f"Migration {self._file_naming(rev_id)} has revision = {rev_id!r}, which Alembic "
                f"cannot use: {_sentence(exc).split(' in revision')[0]}. Use letters, digits and "
                "underscores, e.g. the file's name without .py (and fix any down_revision that "
                "points at it)."
            ) from exc
        except PermissionError as exc:
            raise MigrationError(
                f"Cannot read migration file {self.relative(exc.filename)}: permission denied. "
                "Let the user running manage read it."
            ) from exc
        except (Exception, SystemExit) as exc:  # issue 12 point 5 (safety1): sys.exit() too
            if isinstance(exc, Terminated):
                raise
            raise MigrationError(
                f"Loading migration file {self._failing_file(exc)} failed: "
                f"{describe_exception(exc)}. Fix the file."
            ) from exc
        finally:
            sys.pycache_prefix = saved_prefix
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

    def _file_naming(self, rev_id: str) -> str:
        """The migration file that mentions ``rev_id`` (for errors raised before it loaded)."""
        for path in sorted(self.migrations_dir.glob("*.py")):
            try:
                if rev_id in path.read_text(encoding="utf-8", errors="replace"):
                    return self.relative(path)
            except OSError:
                continue
        return f"in {self.relative(self.migrations_dir)}"

    def _failing_file(self, exc: BaseException) -> str:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if Path(frame.filename).parent == self.migrations_dir:
                return self.relative(frame.filename)
        return f"in {self.relative(self.migrations_dir)}"

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
        """
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
        try:
            context = MigrationContext.configure(
                connection,
                opts=self.settings.version_options(),  # issue 16
            )
            heads = tuple(context.get_current_heads())
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
                f"Cannot plan a way to {target}: {_sentence(exc)}. "
                "Check the target with 'manage showmigrations'."
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

    # -- running migrations ---------------------------------------------------------------------

    def run(
        self,
        connection: Connection,
        steps: Sequence[Step],
        target: str,
        *,
        fake: bool = False,
        purge: bool = False,
        in_transaction: bool = False,
        history: bool = False,
        on_start: Callable[[Step], None] = lambda step: None,
        on_done: Callable[[Step], None] = lambda step: None,
    ) -> None:
        """Move the database to ``target`` along ``steps``, one transaction per migration.

        With ``fake`` only the version table changes (Alembic's stamp); ``purge`` first clears
        revisions that are no longer on disk. With ``in_transaction`` everything runs inside the
        caller's open transaction instead. With ``history`` each migration also adds a row to
        the history table (core/history.py), in its own transaction.

        Raises:
            MigrationError: a migration failed; the message names it and the database's error.
        """
        if not steps and not purge:
            return
        direction = steps[0].direction if steps else "apply"
        by_id = {step.revision: step for step in steps}
        running: list[Step] = []
        executed: list[str] = []  # the statements of the migration now running
        committed: list[int] = [0]  # how many of them committed (an autocommit block)
        finished: list[Step] = []  # recorded, reported done once its transaction committed

        def report_finished() -> None:  # issue 12 point 7: "OK" only after COMMIT succeeded
            while finished:
                on_done(finished.pop(0))

        clock: list[tuple[datetime, float]] = []  # when the migration now running started

        def migrations_fn(heads: Any, _context: MigrationContext) -> Iterator[Any]:
            if fake:
                for stamp in self.script._stamp_revs(target, heads):
                    clock[:] = [(_utcnow(), time.monotonic())]
                    yield stamp
                return
            if direction == "apply":
                alembic_steps: list[RevisionStep] = self.script._upgrade_revs(target, heads)
            else:
                alembic_steps = self.script._downgrade_revs(target, heads)
            for alembic_step in alembic_steps:
                report_finished()  # Alembic asks for the next step after the commit
                step = by_id.get(alembic_step.revision.revision) or self._step(
                    alembic_step.revision, direction
                )
                running.append(step)
                executed.clear()
                committed[0] = 0
                on_start(step)
                clock[:] = [(_utcnow(), time.monotonic())]
                yield alembic_step
            report_finished()

        def on_version_apply(
            ctx: MigrationContext,
            step: MigrationInfo,
            heads: Collection[Any],
            run_args: Mapping[str, Any],
        ) -> None:
            if history and clock:
                started_at, started = clock[0]
                duration_ms = round((time.monotonic() - started) * 1000)
                done = steps if fake else running[-1:]
                assert ctx.connection is not None
                for each in done:
                    direction = f"fake {each.direction}" if fake else each.direction
                    migration_history.record(
                        ctx.connection,
                        each.revision,
                        direction,
                        each.path,
                        started_at,
                        duration_ms,
                        self.settings.version_table,
                    )
                clock.clear()
            if not fake and running:
                finished.append(running[-1])

        def after_execute(conn: Connection, *args: Any) -> None:
            executed.append(args[1])  # (connection, cursor, statement, ...)
            if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                committed[0] = len(executed)  # inside op.get_context().autocommit_block()

        def on_begin(_conn: Connection) -> None:
            # A transaction begun mid-migration: the one before it committed (autocommit_block()
            # commits what ran before it). The "commit" event comes before the COMMIT itself.
            committed[0] = len(executed)

        self._version_schema(connection)  # issue 16
        if connection.in_transaction() and not in_transaction:
            connection.commit()
        if history:
            try:
                migration_history.ensure_table(connection)
            except DBAPIError as exc:
                connection.rollback()
                fix = _rights_fix(exc, self.settings.dialect_name) or "Check the database."
                raise DatabaseError(
                    f"Could not create the history table {migration_history.HISTORY_TABLE} in "
                    f"{self.settings.display_url}: "
                    f"{driver_message(exc, self.settings.database_url)}. {fix}"
                ) from None
        event.listen(connection, "after_cursor_execute", after_execute)
        event.listen(connection, "begin", on_begin)
        try:
            with EnvironmentContext(
                self.config,
                self.script,
                fn=migrations_fn,
                destination_rev=target,
                purge=purge,
            ) as env:
                env.configure(
                    connection=connection,
                    target_metadata=None,
                    version_table=self.settings.version_table,
                    version_table_schema=self.settings.version_table_schema,  # issue 16
                    render_as_batch=self.settings.render_as_batch,
                    transaction_per_migration=True,
                    # SQLite DDL is transactional once we issue BEGIN (database.make_engine).
                    transactional_ddl=True if connection.dialect.name == "sqlite" else None,
                    on_version_apply=on_version_apply,
                )
                with env.begin_transaction():
                    env.run_migrations()
        except (RevisionError, alembic_util.CommandError) as exc:
            if running:  # raised by an operation of the migration, e.g. a MySQL alter_column
                raise self._failure(exc, running[-1], executed, committed[0]) from exc
            raise MigrationError(
                f"{_sentence(exc)}. Check the target with 'manage showmigrations'."
            ) from exc
        except (KeyboardInterrupt, Terminated) as exc:  # issue 12 point 8: say what stayed
            step = running[-1] if running else None
            stopped = self._failure(exc, step, executed, committed[0])
            code = exc.code if isinstance(exc, Terminated) else 128 + signal.SIGINT
            raise MigrationStoppedError(
                str(stopped), exit_code=int(code or 1), stopped_by=exc
            ) from None
        except (Exception, SystemExit) as exc:  # issue 12 point 5 (safety1): sys.exit() too
            step = running[-1] if running else None
            raise self._failure(exc, step, executed, committed[0]) from exc
        finally:
            event.remove(connection, "after_cursor_execute", after_execute)
            event.remove(connection, "begin", on_begin)

    def _failure(
        self, exc: BaseException, step: Step | None, executed: Sequence[str], committed: int = 0
    ) -> MigrationError:
        """Name the migration, its file and line, the operation, and the database's error; say
        what state the database is left in and how to go on."""
        if step is None:
            where, operation = "Migrating", ""
        else:
            line, operation = _operation_at(exc, step.path)
            at = f", line {line}" if line else ""
            where = f"Migration {step.revision} ({self.relative(step.path)}{at})"
            operation = f" {operation}" if operation else ""
        if isinstance(exc, DBAPIError):
            reason = redact(driver_message(exc, self.settings.database_url))
        elif isinstance(exc, alembic_util.CommandError):
            reason = _sentence(exc)
        elif isinstance(exc, SQLAlchemyError):
            reason = f"{type(exc).__name__}: {_sentence(exc)}"
        else:
            reason = describe_exception(exc)
        unapply = step is not None and step.direction == "unapply"
        action = "unapplying" if unapply else "applying"
        stopped = isinstance(exc, KeyboardInterrupt | Terminated)
        if stopped:  # SIGINT, SIGTERM: the run was stopped, the migration did not fail
            name = signal.Signals(getattr(exc, "signum", signal.SIGINT)).name
            failed, reason, error = f"was stopped ({name})", "", "it stopped"
        else:
            failed, error = "failed", "the error"
        left_at = self._left_at(step)
        rights = _rights_fix(exc, self.settings.dialect_name)
        undo = (
            f"The database still records {left_at}: undo those statements by hand (or finish "
            "the migration by hand and record it with "
            f"'manage migrate {step.revision if step else 'TARGET'} --fake'), fix the "
            "migration, then run migrate again."
        )
        mysql = self.settings.dialect_name in ("mysql", "mariadb")
        if committed and not mysql:  # issue 12 point 6: what an autocommit block committed
            control = {"BEGIN", "COMMIT"}  # SQLite's, issued by manage itself
            stays = "; ".join(_short(s) for s in executed[:committed] if s.upper() not in control)
            rest = "; ".join(_short(s) for s in executed[committed:] if s.upper() not in control)
            after = (
                " What ran before and inside op.get_context().autocommit_block() was committed "
                f"and stays: {stays}. The rest of it was rolled back"
                f"{f' ({rest})' if rest else ''}. {undo}"
            )
        elif not mysql:
            after = (
                f" Its changes were rolled back; the database stays at {left_at}. "
                f"{rights or 'Fix the migration and run migrate again.'}"
            )
        elif not executed:  # an earlier, failed or stopped, run may have left some
            after = f" No statement of it ran this time; the database records {left_at}. " + (
                rights
                or "If an earlier run of it failed or was stopped, what that run's "
                "statements did stays applied (its message listed them): undo them by hand, "
                f"or finish them and record the migration with 'manage migrate "
                f"{step.revision if step else 'TARGET'} --fake'. Otherwise fix the "
                "migration and run migrate again."
            )
        else:
            ran = "; ".join(_short(statement) for statement in executed)
            after = (
                " MySQL/MariaDB cannot roll back DDL, so what these statements of it did before "
                f"the error stays applied: {ran}. The database still records {left_at}: undo "
                "those statements by hand (or finish them and record the migration with "
                f"'manage migrate {step.revision if step else 'TARGET'} --fake'), fix the "
                "migration, then run migrate again."
            )
        said = f"{where} {failed} while {action}{operation}"
        if stopped:  # nothing to fix: going on is running it again
            after = after.replace("before the error", f"before {error}")
            after = after.replace("Fix the migration and run migrate again.", "Run migrate again.")
            after = after.replace(", fix the migration, then run", ", then run")
            return MigrationError(f"{said}.{after}")
        return MigrationError(f"{said}: {reason}.{after}")

    def _left_at(self, step: Step | None) -> str:
        """The revision the version table records after ``step`` failed."""
        if step is None:
            return "its previous revision"
        if step.direction == "unapply":
            return step.revision
        script = self.script.get_revision(step.revision)
        downs = alembic_util.to_tuple(script.down_revision) if script else None
        return ", ".join(downs) if downs else "no migration applied"

    def sql(self, target: str, start: str | None) -> str:
        """The SQL that moves an empty database (or ``start``) to ``target``, touching no database.

        ``target`` and ``start`` are resolved ids or ``base``.
        """
        downgrade = target == BASE or (
            start not in (None, BASE)
            and target in {s.revision for s in self.script.iterate_revisions(start, BASE)}
        )
        if downgrade and start is None:
            start = self.single_head() or BASE
        buffer = io.StringIO()
        running: list[str] = []

        def migrations_fn(heads: Any, _context: MigrationContext) -> Iterator[RevisionStep]:
            if downgrade:
                steps = self.script._downgrade_revs(target, heads)
            else:
                steps = self.script._upgrade_revs(target, heads)
            for step in steps:
                running.append(step.revision.revision)
                yield step

        try:
            with EnvironmentContext(
                self.config,
                self.script,
                fn=migrations_fn,
                as_sql=True,
                starting_rev=None if start == BASE else start,
                destination_rev=target,
            ) as env:
                env.configure(
                    url=make_url(self.settings.database_url),
                    output_buffer=buffer,
                    literal_binds=True,
                    version_table=self.settings.version_table,
                    version_table_schema=self.settings.version_table_schema,  # issue 16
                    render_as_batch=self.settings.render_as_batch,
                    transaction_per_migration=True,
                )
                with env.begin_transaction():
                    env.run_migrations()
        except (RevisionError, alembic_util.CommandError) as exc:
            raise MigrationError(
                f"Cannot render the SQL offline: {_sentence(exc)}. Run the migration against a "
                "database instead."
            ) from exc
        except Exception as exc:
            where = f"migration {running[-1]}" if running else "the migrations"
            reason = _sentence(exc) or "an operation needs a live database"
            if not isinstance(exc, NotImplementedError | SQLAlchemyError):
                reason = describe_exception(exc)
            raise MigrationError(
                f"Cannot render the SQL of {where} offline: {reason}. Migrations that read the "
                "database, or SQLite batch operations that copy a table, need a live database: "
                "run migrate without --sql."
            ) from exc
        return buffer.getvalue()

    def operations_of(self, revision: str, *, backwards: bool = False) -> list[Any]:
        """The Alembic operations ``revision``'s upgrade (or downgrade) issues, found by running
        it against a recorder; empty when it cannot run without a database."""
        script = self.script.get_revision(revision)
        if script is None:
            return []
        function = getattr(script.module, "downgrade" if backwards else "upgrade")
        context = MigrationContext.configure(
            dialect_name=self.settings.dialect_name,
            opts={"as_sql": True, "output_buffer": io.StringIO()},
        )
        operations, recorded = _recorder(context)
        operations._install_proxy()
        try:
            function()
        except Exception:
            return recorded  # what it did before it needed a database
        finally:
            operations._remove_proxy()
        return recorded

    # -- writing migrations ---------------------------------------------------------------------

    def check_in_memory(
        self,
        metadata: MetaData | tuple[MetaData, ...],
        *,
        include_object: IncludeObject | None,
        name: str | None,
    ) -> Generated:
        """What ``makemigrations`` would write, found without any database: the history is
        replayed in memory and compared with Alembic's comparators for the project's dialect.

        Raises:
            UnreplayableError: a migration's effect on the schema needs a database to know.
        """
        self.single_head()
        scripts = list(reversed(list(self.script.walk_revisions())))
        state, state_file = replay_cached(
            scripts,
            self.settings.dialect_name,
            cache_dir() / "replay",
            also=self.imported_by_migrations,
        )
        upgrade_ops, history_tables = compare_remembering(
            self.settings, state, metadata, include_object=include_object
        )
        digest = insync.history_digest(self.settings)
        if digest is not None and state_file is not None and history_tables is not None:
            dialect = insync.project_dialect(self.settings)
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
                revision_ids=self.revision_ids(),
                imported=self.imported_by_migrations,
                state_file=state_file,
                tables=history_tables,
            )
        return _generated(
            upgrade_ops,
            self.revision_ids(),
            name,
            initial=not scripts,
            dialect_name=self.settings.dialect_name,
        )

    def compare_with_history(
        self,
        connection: Connection,
        metadata: MetaData | tuple[MetaData, ...],
        *,
        include_object: IncludeObject | None,
        name: str | None,
        write_to: Path | None,
        rollback: bool = False,
        questioner: Questioner | None = None,
    ) -> Generated:
        """Replay the history into the empty shadow database ``connection``, then compare.

        With ``rollback`` the replay and the comparison share one transaction that is rolled
        back, so the database is left exactly as it was (PostgreSQL and SQLite only).
        """
        head = self.single_head()
        if rollback:
            connection.begin()
        try:
            if head is not None:
                try:
                    self.run(connection, self.plan((), head), head, in_transaction=rollback)
                except MigrationStoppedError as exc:  # a throwaway database: just unwind
                    raise exc.stopped_by from None
                except MigrationError as exc:
                    raise MigrationError(
                        f"Replaying the migration history into a shadow database failed: {exc}"
                    ) from exc
            return self.autogenerate(
                connection,
                metadata,
                include_object=include_object,
                name=name,
                write_to=write_to,
                in_transaction=rollback,
                questioner=questioner,
            )
        finally:
            if connection.in_transaction():
                connection.rollback()

    def autogenerate(
        self,
        connection: Connection,
        metadata: MetaData | tuple[MetaData, ...],
        *,
        include_object: IncludeObject | None,
        name: str | None,
        write_to: Path | None,
        in_transaction: bool = False,
        questioner: Questioner | None = None,
    ) -> Generated:
        """Compare ``metadata`` with the schema in ``connection`` (the replayed history).

        With ``write_to`` the migration file is written there; without, nothing is written.
        """
        result: dict[str, Any] = {}
        initial = not self._scripts

        def process_revision_directives(
            _context: MigrationContext, _rev: Any, directives: list[ops.MigrationScript]
        ) -> None:
            script = directives[0]
            answers = []
            if questioner is not None and write_to is not None:
                from manage.core.questions import ask  # writing only: migrate does without

                answers = ask(script, questioner, connection.dialect)
            for container in (*script.upgrade_ops_list, *script.downgrade_ops_list):
                _tables_first_and_last(container)
                _enum_value_changes(container, connection.dialect.name)
                make_runnable(container, connection.dialect.name)  # issue 16: core/runnable.py
            operations: list[revisions.Operation] = []
            for upgrade_ops in script.upgrade_ops_list:
                operations.extend(revisions.describe(upgrade_ops))
            rev_id = None
            if operations:
                number = revisions.next_number(self.revision_ids())
                slug = name or revisions.suggest_name(operations, initial=initial)
                rev_id = revisions.revision_id(number, slug)
                script.rev_id = rev_id
                script.message = slug.replace("_", " ").capitalize() + "".join(
                    ["\n\nAnswers given to makemigrations:\n", *(f"- {a}\n" for a in answers)]
                    if answers
                    else []
                ).rstrip("\n")
                script.version_path = str(write_to) if write_to else None
            _enum_types(script, metadata, connection)
            result["operations"] = tuple(operations)
            result["rev_id"] = rev_id
            if not operations or write_to is None:
                directives[:] = []  # Alembic cookbook: don't generate empty migrations

        revision_context = RevisionContext(
            self.config,
            self.script,
            dict(
                message=None,
                autogenerate=True,
                sql=False,
                head="head",
                splice=False,
                branch_label=None,
                version_path=None,
                rev_id=None,
                depends_on=None,
            ),
        )

        def retrieve(rev: Any, context: MigrationContext) -> list[Any]:
            revision_context.run_autogenerate(rev, context)
            return []

        self._version_schema(connection)  # issue 16
        if connection.in_transaction() and not in_transaction:
            connection.commit()
        try:
            with EnvironmentContext(
                self.config,
                self.script,
                fn=retrieve,
                as_sql=False,
                template_args=revision_context.template_args,
                revision_context=revision_context,
            ) as env:
                env.configure(
                    connection=connection,
                    target_metadata=metadata,
                    **SERVER_DEFAULTS,  # issue 16: core/compare_plugin.py
                    **schema_options(metadata, None),
                    compare_type=enum_values_changed,
                    include_object=include_object,
                    version_table=self.settings.version_table,
                    version_table_schema=self.settings.version_table_schema,  # issue 16
                    render_as_batch=self.settings.render_as_batch,
                    process_revision_directives=process_revision_directives,
                    render_item=render_enum_without_create,
                )
                with env.begin_transaction():
                    env.run_migrations()
            written = [s for s in revision_context.generate_scripts() if s is not None]
        except alembic_util.CommandError as exc:
            raise MigrationError(f"Could not write the migration: {_sentence(exc)}.") from exc
        except OSError as exc:
            raise _write_error(exc) from exc
        except ManageError:
            raise
        except Exception as exc:
            reason = _sentence(exc) if isinstance(exc, SQLAlchemyError) else describe_exception(exc)
            raise DiscoveryError(
                f"Comparing the models with the migrations failed: {reason}. Fix the models."
            ) from exc
        finally:
            if connection.in_transaction() and not in_transaction:
                connection.rollback()
        return Generated(
            revision_id=result.get("rev_id"),
            operations=result.get("operations", ()),
            path=Path(written[0].path) if written else None,
        )

    def write_revision(
        self,
        name: str,
        *,
        heads: Sequence[str] | None = None,
        message: str | None = None,
        write_to: Path | None = None,
    ) -> Path:
        """Write an empty migration (``--empty``) or, with several ``heads``, a merge."""
        rev_id = revisions.revision_id(revisions.next_number(self.revision_ids()), name)
        try:
            script = self.script.generate_revision(
                rev_id,
                message or name.replace("_", " ").capitalize(),
                head=list(heads) if heads else "head",
                refresh=True,
                version_path=str(write_to or self.migrations_dir),
            )
        except (alembic_util.CommandError, ResolutionError) as exc:
            raise MigrationError(f"Could not write the migration: {_sentence(exc)}.") from exc
        except OSError as exc:
            raise _write_error(exc) from exc
        assert script is not None
        return Path(script.path)


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
            table for table, key in keys.items() if known and key is not None and key in known
        )
        return cls(keys, known, skip)


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


def _recorder(context: MigrationContext) -> tuple[Operations, list[ops.MigrateOperation]]:
    """Operations that record what a migration issues instead of running it. Alembic's proxy
    (``from alembic import op``) is keyed by class, so the instance is patched, not subclassed."""
    recorded: list[ops.MigrateOperation] = []
    operations = Operations(context)

    def invoke(operation: ops.MigrateOperation) -> None:
        recorded.append(operation)

    @contextmanager
    def batch_alter_table(
        table_name: str, schema: str | None = None, **_kw: Any
    ) -> Iterator[BatchOperations]:
        impl = SimpleNamespace(table_name=table_name, schema=schema)
        batch = BatchOperations(context, impl=impl)  # type: ignore[arg-type]
        batch.invoke = invoke  # type: ignore[method-assign, assignment]
        yield batch

    operations.invoke = invoke  # type: ignore[method-assign, assignment]
    operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign, assignment]
    return operations, recorded


def _write_error(exc: OSError) -> MigrationError:
    path = exc.filename or "the migrations folder"
    return MigrationError(
        f"Could not write {path}: {exc.strerror or exc}. Make the migrations folder writable, "
        "or point the migrations setting at a folder that can be."
    )


def _rights_fix(exc: BaseException, dialect_name: str) -> str | None:
    """The fix for a database error that is about rights or locks, not the migration."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).lower()
    if dialect_name == "sqlite":
        if "database is locked" in text:
            return (
                "Another connection holds a write lock on the SQLite file (an open transaction, "
                "e.g. in a sqlite3 shell or the running app): end it, then run again."
            )
        if "readonly database" in text or "unable to open database" in text:
            return (
                "The SQLite file is read-only: make the file and its folder writable by the "
                "user running manage, then run again."
            )
        return None
    code = getattr(orig, "sqlstate", None) or (
        orig.args[0] if getattr(orig, "args", None) else None
    )
    if code in ("42501", 1142, 1044, 1227):  # PostgreSQL insufficient_privilege; MySQL denied
        return (
            "The database user may not change the schema: run migrate as a user that may (e.g. "
            "the schema's owner), or grant this one the rights (GRANT CREATE / ALL PRIVILEGES)."
        )
    return None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _operation_at(exc: BaseException, path: Path | None) -> tuple[int | None, str]:
    """The line of migration file ``path`` that was running when ``exc`` was raised, and the
    source of the statement there (all of its lines), e.g. ``op.add_column("book", ...)``."""
    if path is None:
        return None, ""
    target = path.resolve()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.lineno is None or Path(frame.filename).resolve() != target:
            continue
        end = getattr(frame, "end_lineno", None) or frame.lineno
        lines = [linecache.getline(frame.filename, n) for n in range(frame.lineno, end + 1)]
        source = re.sub(r",?\s*\n\s*\)", ")", re.sub(r"([(\[{])\s*\n\s*", r"\1", "".join(lines)))
        return frame.lineno, _short(source, 100)
    return None, ""


def _short(text: str, limit: int = 160) -> str:
    one_line = " ".join(redact(text).split())  # before cutting: a cut may split a password
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def _sentence(exc: BaseException) -> str:
    """An exception's text without the full stop, so it can be followed by the fix."""
    return " ".join(str(exc).split()).rstrip(".")


def _tables_first_and_last(container: ops.OpContainer) -> None:
    """Create tables before, and drop them after, the changes to other tables that refer to them.

    Alembic emits ``drop_table`` before the ``drop_constraint`` of a foreign key pointing at that
    table (PostgreSQL refuses the drop; SQLite's batch copy cannot find the table), and in the
    downgrade ``create_foreign_key`` before the ``create_table`` it needs. Each group keeps
    Alembic's own dependency order.
    """
    creates = [op for op in container.ops if isinstance(op, ops.CreateTableOp)]
    drops = [op for op in container.ops if isinstance(op, ops.DropTableOp)]
    others = [op for op in container.ops if not isinstance(op, ops.CreateTableOp | ops.DropTableOp)]
    container.ops = [*creates, *others, *drops]


class EnumTypeOp(ops.MigrateOperation):
    """Create or drop a named enum type: PostgreSQL keeps enums as separate types, and Alembic's
    ``add_column`` does not create one, nor ``drop_table``/``drop_column`` drop it."""

    def __init__(self, action: Literal["create", "drop"], enum: Enum) -> None:
        self.action = action
        self.enum = enum


@renderers.dispatch_for(EnumTypeOp)
def _render_enum_type(_context: AutogenContext, op: EnumTypeOp) -> str:
    # A no-op where enums are not separate types (SQLite, MySQL), so the file stays portable and
    # plain Alembic can run it; offline (--sql) it renders CREATE/DROP TYPE.
    values = "".join(f"{value!r}, " for value in op.enum.enums) if op.action == "create" else ""
    schema = f", schema={op.enum.schema!r}" if op.enum.schema else ""
    enum = f"sa.Enum({values}name={op.enum.name!r}{schema})"
    return f"{enum}.{op.action}(op.get_bind(), checkfirst=True)"


def _named_enum(type_: Any) -> Enum | None:
    """The named native enum ``type_`` is, or wraps (a project's TypeDecorator)."""
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, Enum) and type_.name and type_.native_enum:
        return type_
    return None


def _walk(items: Sequence[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for item in items:
        if isinstance(item, ops.OpContainer):
            yield from _walk(item.ops)
        else:
            yield item


def _enum_types(
    script: ops.MigrationScript,
    metadata: MetaData | tuple[MetaData, ...],
    connection: Connection,
) -> None:
    """Give each upgrade and downgrade the enum CREATE/DROP TYPE that Alembic leaves out.

    Before the changes: create every enum a new table or column uses (``checkfirst``, so an
    existing type is reused). After them: drop the enums of dropped tables and columns that
    nothing uses any more, judged on the schema the changes lead to: the models for an upgrade,
    the replayed history for a downgrade.
    """
    tables = [t for meta in (metadata if isinstance(metadata, tuple) else (metadata,))
              for t in meta.tables.values()]  # fmt: skip
    shadow: dict[str, dict[str, Any]] = {}

    def reflected() -> dict[str, dict[str, Any]]:
        if not shadow:
            inspector = inspect(connection)
            for name in inspector.get_table_names():
                shadow[name] = {c["name"]: c["type"] for c in inspector.get_columns(name)}
        return shadow

    def used_after_upgrade(dropped_tables: set[str]) -> set[str]:
        used = {e.name for t in tables for c in t.columns if (e := _named_enum(c.type))}
        owned = {t.name for t in tables} | dropped_tables
        used |= {
            e.name
            for name, columns in reflected().items()
            if name not in owned
            for type_ in columns.values()
            if (e := _named_enum(type_))
        }
        return {str(name) for name in used}

    def used_after_downgrade(_dropped_tables: set[str]) -> set[str]:
        state = reflected()
        used = {
            str(e.name) for cols in state.values() for t in cols.values() if (e := _named_enum(t))
        }
        # Dialects that reflect enums without their names (SQLite, MySQL): a model column that
        # exists in the replayed schema still uses its enum there.
        used |= {
            str(e.name)
            for t in tables
            if t.name in state
            for c in t.columns
            if c.name in state[t.name] and (e := _named_enum(c.type))
        }
        return used

    for containers, used_after in (
        (script.upgrade_ops_list, used_after_upgrade),
        (script.downgrade_ops_list, used_after_downgrade),
    ):
        for container in containers:
            _add_enum_types(container, used_after)


def _add_enum_types(container: ops.OpContainer, used_after: Callable[[set[str]], set[str]]) -> None:
    used: dict[str, Enum] = {}
    dropped: dict[str, Enum] = {}
    dropped_tables: set[str] = set()
    for op in _walk(container.ops):
        if isinstance(op, ops.CreateTableOp):
            for column in op.columns:
                if e := _named_enum(getattr(column, "type", None)):
                    used.setdefault(str(e.name), e)
        elif isinstance(op, ops.AddColumnOp) and (e := _named_enum(op.column.type)):
            used.setdefault(str(e.name), e)
        elif isinstance(op, ops.DropTableOp):
            dropped_tables.add(op.table_name)
            for column in op.to_table().columns:
                if e := _named_enum(column.type):
                    dropped.setdefault(str(e.name), e)
        elif isinstance(op, ops.DropColumnOp) and (e := _named_enum(op.to_column().type)):
            dropped.setdefault(str(e.name), e)
    creates = [EnumTypeOp("create", e) for e in used.values()]
    drops: list[ops.MigrateOperation] = []
    if dropped:
        still_used = used_after(dropped_tables)
        drops = [EnumTypeOp("drop", e) for name, e in dropped.items() if name not in still_used]
    if creates or drops:
        container.ops = [*creates, *container.ops, *drops]


def render_enum_without_create(
    type_: str, obj: Any, _context: AutogenContext
) -> str | Literal[False]:  # also: imports for the project's own types
    """Alembic's ``render_item``: named enums are created by their own idempotent statement
    (``EnumTypeOp``), so tables render them with ``create_type=False`` and never CREATE TYPE
    twice, e.g. when a downgrade re-creates a table whose type another table still uses."""
    # A project's TypeDecorator around an enum is written as the enum itself: the migration
    # keeps the values it had, which the project's type changes later.
    enum = _named_enum(obj) if type_ == "type" else None
    module = type(obj).__module__ if type_ == "type" else "sqlalchemy"
    if enum is None and module.split(".")[0] not in ("sqlalchemy", "builtins"):
        # Alembic renders a project's own type (a TypeDecorator) as module.Name(...) but
        # imports nothing: add the import, so the migration runs without a hand edit.
        _context.imports.add(f"import {module}")
    if enum is None:
        return False
    values = "".join(f"{value!r}, " for value in enum.enums)
    schema = f", schema={enum.schema!r}" if enum.schema else ""
    return f"sa.Enum({values}name={enum.name!r}{schema}, create_type=False)"


def _number(revision: str) -> int | None:
    """The number a revision id starts with (its first four characters, all digits), or None.

    ASCII digits only: ``str.isdigit()`` also accepts '²', which ``int()`` refuses.
    """
    head = revision[:4]
    return int(head) if head.isascii() and head.isdigit() else None


_UNCHANGED: Any = False
"""Alembic's ``modify_server_default`` when the default does not change (None removes it)."""


class EnumValuesOp(ops.MigrateOperation):
    """Change the values of PostgreSQL's named enum type ``enum.name`` (from ``old`` to
    ``enum.enums``) for ``columns`` ((table, column, schema)), which use it.

    Values only added (in place): ``ALTER TYPE ... ADD VALUE``, which keeps every row and takes
    no table lock, in an autocommit block so that the rest of the migration may use the new
    values. Otherwise (values removed or moved): the type is recreated and the columns cast to
    it, which fails, changing nothing, while a row holds a removed value; the old type is
    dropped by :class:`DropOldEnumOp`, after the migration's other changes.
    """

    def __init__(
        self, enum: Enum, old: Sequence[str], columns: Sequence[tuple[str, str, str | None]]
    ) -> None:
        self.enum = enum
        self.old = tuple(old)
        self.columns = tuple(columns)
        self.defaults: dict[tuple[str, str, str | None], Any] = {}
        """Server defaults the columns have (a type change cannot cast them)."""
        self.new_defaults: dict[tuple[str, str, str | None], Any] = {}
        """Server defaults the same migration gives the columns (None: removed)."""
        self.nullable: dict[tuple[str, str, str | None], bool | None] = {}

    @property
    def new(self) -> tuple[str, ...]:
        return tuple(self.enum.enums)

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(v for v in self.new if v not in self.old)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(v for v in self.old if v not in self.new)

    @property
    def only_added(self) -> bool:
        """The old values keep their order, with new ones among them."""
        return [v for v in self.new if v in self.old] == list(self.old)

    def alter_columns(self) -> list[ops.AlterColumnOp]:
        """The change as Alembic's ``alter_column`` of each column, to describe it."""
        old = Enum(*self.old, name=self.enum.name, schema=self.enum.schema)
        return [
            ops.AlterColumnOp(
                t,
                c,
                schema=s,
                existing_type=old,
                modify_type=self.enum,
                modify_server_default=self.new_defaults.get((t, c, s), _UNCHANGED),
                existing_server_default=self.defaults.get((t, c, s)),
                existing_nullable=self.nullable.get((t, c, s)),
            )
            for t, c, s in self.columns
        ]


class DropOldEnumOp(ops.MigrateOperation):
    """Drop the type an :class:`EnumValuesOp` renamed away, once nothing in the migration uses
    it any more (a column of it dropped in the same migration goes first)."""

    def __init__(self, enum: Enum) -> None:
        self.enum = enum

    def alter_columns(self) -> list[ops.AlterColumnOp]:
        """Nothing to describe: the :class:`EnumValuesOp` says it all."""
        return []


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def enum_add_value_sql(type_name: str, value: str, new: Sequence[str]) -> str:
    """``ALTER TYPE ... ADD VALUE``, placed where ``value`` stands in ``new`` (replay.py reads
    this form back)."""
    at = list(new).index(value)
    where = f" AFTER {_sql_literal(new[at - 1])}" if at else f" BEFORE {_sql_literal(new[at + 1])}"
    return f"ALTER TYPE {type_name} ADD VALUE IF NOT EXISTS {_sql_literal(value)}{where}"


def _type_name(autogen: AutogenContext, enum: Enum, suffix: str = "") -> str:
    quote = autogen.dialect.identifier_preparer.quote if autogen.dialect else str
    schema = f"{quote(enum.schema)}." if enum.schema else ""
    return f"{schema}{quote(str(enum.name) + suffix)}"


def _render_default(default: Any, autogen: AutogenContext) -> str:
    """A server default as Alembic renders it in an ``alter_column``."""
    from alembic.autogenerate.render import _render_server_default  # private: see module doc

    return str(_render_server_default(default, autogen))


@renderers.dispatch_for(EnumValuesOp)
def _render_enum_values(autogen: AutogenContext, op: EnumValuesOp) -> list[str]:
    name = _type_name(autogen, op.enum)
    quote = autogen.dialect.identifier_preparer.quote if autogen.dialect else str
    lines: list[str] = []
    if op.only_added and op.old:
        # PostgreSQL refuses a value added in the same transaction to be used (a default, a
        # row): ADD VALUE commits at once; IF NOT EXISTS makes a rerun after a failure harmless.
        lines.append("with op.get_context().autocommit_block():")
        present = set(op.old)
        for value in op.added:  # each goes in where it stands, after those before it are in
            present.add(value)
            sql = enum_add_value_sql(name, value, [v for v in op.new if v in present])
            lines.append(f"op.execute({sql!r})")
        lines.append("")  # ends the block
    else:
        renamed = quote(f"{op.enum.name}_old")  # RENAME TO takes no schema
        values = ", ".join(_sql_literal(v) for v in op.new)
        lines += [
            f"op.execute({f'ALTER TYPE {name} RENAME TO {renamed}'!r})",
            f"op.execute({f'CREATE TYPE {name} AS ENUM ({values})'!r})",
        ]
    enum = render_enum_without_create("type", op.enum, autogen)
    # The values the column had, under the name the old type has now (for migrate --plan).
    was = Enum(*op.old, name=f"{op.enum.name}_old", schema=op.enum.schema)
    existing = render_enum_without_create("type", was, autogen)
    for key in op.columns:
        table, column, table_schema = key
        where = f", schema={table_schema!r}" if table_schema else ""
        default = op.defaults.get(key)
        final = op.new_defaults.get(key, default)
        nullable = op.nullable.get(key)
        # A default this migration removes: the NOT NULL flag lets migrate --plan say so.
        removed = key in op.new_defaults and final is None and nullable is not None
        drop = f"server_default=None{f', existing_nullable={nullable!r}' if removed else ''}"
        if not (op.only_added and op.old):
            if default is not None:  # PostgreSQL cannot cast it: dropped, then set again
                lines.append(f"op.alter_column({table!r}, {column!r}, {drop}{where})")
            using = f"{quote(column)}::text::{name}"
            lines.append(
                f"op.alter_column({table!r}, {column!r}, existing_type={existing}, "
                f"type_={enum}, postgresql_using={using!r}{where})"
            )
        elif key in op.new_defaults and final is None:
            lines.append(f"op.alter_column({table!r}, {column!r}, {drop}{where})")
        if final is not None and (key in op.new_defaults or not (op.only_added and op.old)):
            lines.append(
                f"op.alter_column({table!r}, {column!r}, "
                f"server_default={_render_default(final, autogen)}{where})"
            )
    return lines


@renderers.dispatch_for(DropOldEnumOp)
def _render_drop_old_enum(autogen: AutogenContext, op: DropOldEnumOp) -> str:
    sql = f"DROP TYPE {_type_name(autogen, op.enum, '_old')}"
    return f"op.execute({sql!r})"


def _enum_value_changes(container: ops.OpContainer, dialect_name: str) -> None:
    """On PostgreSQL, replace the type change of columns whose enum values changed (Alembic
    would write ``ALTER COLUMN ... TYPE`` to the type the column already has) by one
    :class:`EnumValuesOp` per type, before the other operations, which also sets the server
    default the same migration gives such a column (after the values it may use exist); a
    recreated type's old copy is dropped last (:class:`DropOldEnumOp`)."""
    if dialect_name != "postgresql":
        return
    changes: dict[tuple[str | None, str], EnumValuesOp] = {}

    def rewrite(items: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
        kept: list[ops.MigrateOperation] = []
        for item in items:
            if isinstance(item, ops.ModifyTableOps):
                item.ops = rewrite(item.ops)
                if item.ops:
                    kept.append(item)
                continue
            modify = getattr(item, "modify_type", None)
            enum = _named_enum(modify) if isinstance(item, ops.AlterColumnOp) else None
            existing = getattr(item, "existing_type", None)
            old = getattr(existing, "enums", None)
            same_type = enum is not None and getattr(existing, "name", None) == enum.name
            if not same_type or old is None or not isinstance(item, ops.AlterColumnOp):
                kept.append(item)  # e.g. a column moved to another enum type: Alembic's way
                continue
            assert enum is not None
            column = (item.table_name, item.column_name, item.schema)
            key = (enum.schema, str(enum.name))
            if key in changes:
                changes[key].columns += (column,)
            else:
                changes[key] = EnumValuesOp(enum, old, [column])
            change = changes[key]
            if item.existing_server_default not in (None, False):
                change.defaults[column] = item.existing_server_default
            if item.modify_server_default is not False:  # set (or removed) by this migration
                change.new_defaults[column] = item.modify_server_default
                item.modify_server_default = False
            change.nullable[column] = (
                item.modify_nullable if item.modify_nullable is not None else item.existing_nullable
            )
            item.modify_type = None  # anything else the alter_column changes stays
            if item.has_changes():
                kept.append(item)
        return kept

    rest = rewrite(container.ops)
    drops = [DropOldEnumOp(c.enum) for c in changes.values() if not (c.only_added and c.old)]
    container.ops = [*changes.values(), *rest, *drops]
