"""Run migrations on a database (or offline as SQL) and record them in the version table."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from alembic import util as alembic_util
from alembic.operations import Operations, ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationInfo, RevisionStep
from alembic.script.revision import RevisionError
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from manage.compat import (
    downgrade_revs,
    op_proxy,
    recording_operations,
    stamp_revs,
    upgrade_revs,
    without_autocommit_block,
)
from manage.core import history as migration_history
from manage.core.database import driver_message, make_engine
from manage.core.migrations.bootstrap import bootstrap_hint, database_is_empty, run_bootstrap
from manage.core.migrations.ddl_locks import (
    DdlLockGuard,
    LockWait,
    backoff,
    invalid_index_left,
    is_lock_timeout,
)
from manage.core.migrations.diagnostics import _operation_at, _rights_fix, _sentence, _short
from manage.core.migrations.loader import MigrationLoader
from manage.core.migrations.types import BASE, Step
from manage.core.redact import redact
from manage.core.safe_ddl import in_one_transaction
from manage.core.settings import describe_exception
from manage.errors import (
    DatabaseError,
    DdlLockTimeoutError,
    MigrationError,
    MigrationStoppedError,
    cannot_render_offline,
    check_the_target,
)
from manage.light.signals import Terminated

_CORRECT = (
    "Correct the cause (the migration file, or the database it runs on), then run migrate again."
)
"""What to do after a failed migration: the file may be a correct third-party one."""


class MigrationExecutor(MigrationLoader):
    """Run planned migrations on a database, or render them as SQL, recording each step."""

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
        on_retry: Callable[[LockWait], None] = lambda wait: None,
    ) -> None:
        """Move the database to ``target`` along ``steps``, one transaction per migration.

        Each DDL statement gets the ``ddl_lock_timeout`` setting as its lock timeout; one that
        times out is tried again up to ``ddl_retries`` times (core/migrations/ddl_locks.py): on
        PostgreSQL the whole migration, rolled back, unless part of it committed already (an
        autocommit block); elsewhere the statement alone. ``on_retry`` is told before each wait.

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
                for stamp in stamp_revs(self.script, target, heads):
                    clock[:] = [(_utcnow(), time.monotonic())]
                    yield stamp
                return
            if direction == "apply":
                alembic_steps: list[RevisionStep] = upgrade_revs(self.script, target, heads)
            else:
                alembic_steps = downgrade_revs(self.script, target, heads)
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

        target_metadata = self.target_metadata()  # before anything runs: the models may not import
        self._version_schema(connection)  # issue 16
        if connection.in_transaction() and not in_transaction:
            connection.commit()
        if self._starts_from_bootstrap(connection, steps, fake=fake):  # issue 13
            run_bootstrap(self.settings, connection)
            if not in_transaction and connection.in_transaction():
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
        guard = DdlLockGuard(
            connection,
            self.settings.database_url,
            timeout=0.0 if fake else self.settings.ddl_lock_timeout,
            retries=self.settings.ddl_retries,
            on_retry=on_retry,
            make_engine=make_engine,  # the watcher's second connection
        )
        retried = 0
        event.listen(connection, "after_cursor_execute", after_execute)
        event.listen(connection, "begin", on_begin)
        # issue 14: a replay inside one transaction that is rolled back (a given shadow
        # database) runs the autocommit blocks in it, and so builds indexes without
        # CONCURRENTLY (refused in a transaction); the schema is the same.
        one_transaction = in_transaction and connection.dialect.name == "postgresql"
        if one_transaction:
            event.listen(connection, "before_cursor_execute", in_one_transaction, retval=True)
        try:
            with guard.installed():
                if connection.in_transaction() and not in_transaction:
                    connection.commit()
                while True:
                    guard.last = None
                    try:
                        self._run_once(connection, fn=migrations_fn, target=target, purge=purge,
                                       target_metadata=target_metadata,
                                       on_version_apply=on_version_apply,
                                       one_transaction=one_transaction)  # fmt: skip
                        break
                    except DBAPIError as exc:
                        wait = guard.last
                        if (
                            wait is None
                            or not wait.whole_migration
                            or not is_lock_timeout(exc, connection.dialect.name)
                            or committed[0]  # part of it stays: it cannot run again
                            or in_transaction  # the caller's transaction: not ours to undo
                            or retried >= guard.retries
                        ):
                            if wait is not None and wait.whole_migration:
                                guard.last = replace(wait, attempt=retried + 1)
                            raise
                        retried += 1
                        if connection.in_transaction():
                            connection.rollback()
                        delay = backoff(retried)
                        on_retry(replace(wait, attempt=retried, delay=delay))
                        time.sleep(delay)
                        running.clear()
        except (RevisionError, alembic_util.CommandError) as exc:
            if running:  # raised by an operation of the migration, e.g. a MySQL alter_column
                raise self._failure(exc, running[-1], executed, committed[0]) from exc
            raise MigrationError(check_the_target(_sentence(exc))) from exc
        except (KeyboardInterrupt, Terminated) as exc:  # issue 12 point 8: say what stayed
            step = running[-1] if running else None
            stopped = self._failure(exc, step, executed, committed[0])
            code = exc.code if isinstance(exc, Terminated) else 128 + signal.SIGINT
            raise MigrationStoppedError(
                str(stopped), exit_code=int(code or 1), stopped_by=exc
            ) from None
        except (Exception, SystemExit) as exc:  # issue 12 point 5 (safety1): sys.exit() too
            step = running[-1] if running else None
            wait = guard.last if is_lock_timeout(exc, connection.dialect.name) else None
            raise self._failure(exc, step, executed, committed[0], lock=wait) from exc
        finally:
            event.remove(connection, "after_cursor_execute", after_execute)
            if one_transaction:
                event.remove(connection, "before_cursor_execute", in_one_transaction)
            event.remove(connection, "begin", on_begin)

    def _run_once(
        self,
        connection: Connection,
        *,
        fn: Callable[[Any, MigrationContext], Iterator[Any]],
        target: str,
        purge: bool,
        target_metadata: Any,
        on_version_apply: Callable[..., None],
        one_transaction: bool = False,
    ) -> None:
        with EnvironmentContext(
            self.config, self.script, fn=fn, destination_rev=target, purge=purge
        ) as env:
            env.configure(
                connection=connection,
                target_metadata=target_metadata,
                **self.configure_options(),
                transaction_per_migration=True,
                # SQLite DDL is transactional once we issue BEGIN (database.make_engine).
                transactional_ddl=True if connection.dialect.name == "sqlite" else None,
                on_version_apply=on_version_apply,
            )
            if one_transaction:
                without_autocommit_block(env.get_context())
            with env.begin_transaction():
                env.run_migrations()

    def _starts_from_bootstrap(
        self, connection: Connection, steps: Sequence[Step], *, fake: bool
    ) -> bool:
        """Whether the ``bootstrap`` setting runs first: ``steps`` apply a first migration (it
        has no parent) on an empty database."""
        if fake or not steps or steps[0].direction != "apply" or self.settings.bootstrap is None:
            return False
        first = self.script.get_revision(steps[0].revision)
        return (
            first is not None
            and not first.down_revision
            and database_is_empty(connection, self.settings)
        )

    def _failure(
        self,
        exc: BaseException,
        step: Step | None,
        executed: Sequence[str],
        committed: int = 0,
        *,
        lock: LockWait | None = None,
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
        if lock is not None:
            reason, rights = _lock_reason(lock), _lock_fix(lock, self.settings.dialect_name)
        undo = (
            f"The database still records {left_at}: undo those statements by hand (or finish "
            "the migration by hand and record it with "
            f"'manage migrate {step.revision if step else 'TARGET'} --fake'), correct the "
            "cause, then run migrate again."
        )
        mysql = self.settings.dialect_name in ("mysql", "mariadb")
        left = ""  # a failed CREATE INDEX CONCURRENTLY keeps its index: no rollback undoes it
        index = None
        if self.settings.dialect_name == "postgresql" and isinstance(exc, DBAPIError):
            index = invalid_index_left(exc, self.settings.database_url, make_engine)
        if index is not None:
            left = (
                f" PostgreSQL left the index {index} behind, INVALID, as a failed CREATE INDEX "
                "CONCURRENTLY does: "
                + (  # only the DDL lock guard drops it (ddl_locks.DdlLockGuard)
                    "the next 'manage migrate' drops it before building it again."
                    if self.settings.ddl_lock_timeout > 0
                    else f"drop it with 'DROP INDEX CONCURRENTLY {index}' before running "
                    "migrate again (with ddl_lock_timeout = 0, migrate does not drop it)."
                )
            )
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
                f" Its {'other ' if left else ''}changes were rolled back; the database stays "
                f"at {left_at}. "
                f"{rights or _CORRECT}"
            )
        elif not executed:  # an earlier, failed or stopped, run may have left some
            after = f" No statement of it ran this time; the database records {left_at}. " + (
                rights
                or "If an earlier run of it failed or was stopped, what that run's "
                "statements did stays applied (its message listed them): undo them by hand, "
                f"or finish them and record the migration with 'manage migrate "
                f"{step.revision if step else 'TARGET'} --fake'. Otherwise correct the "
                "cause and run migrate again."
            )
        else:
            ran = "; ".join(_short(statement) for statement in executed)
            after = (
                " MySQL/MariaDB cannot roll back DDL, so what these statements of it did before "
                f"the error stays applied: {ran}. The database still records {left_at}: undo "
                "those statements by hand (or finish them and record the migration with "
                f"'manage migrate {step.revision if step else 'TARGET'} --fake'), correct the "
                "cause, then run migrate again."
            )
        said = f"{where} {failed} while {action}{operation}"
        if stopped:  # nothing to fix: going on is running it again
            after = after.replace("before the error", f"before {error}")
            after = after.replace(_CORRECT, "Run migrate again.")
            after = after.replace(", correct the cause, then run", ", then run")
            after = after.replace("Otherwise correct the cause and run", "Otherwise run")
            return MigrationError(f"{said}.{after}")
        # A first migration (no parent) that misses a table: one made outside the history?
        script = self.script.get_revision(step.revision) if step is not None else None
        first = script is not None and not script.down_revision
        hint = bootstrap_hint(self.settings, reason) if first and not unapply else ""
        kind: type[MigrationError] = MigrationError if lock is None else DdlLockTimeoutError
        return kind(f"{said}: {reason}.{left}{after}{hint}")

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
        target_metadata = self.target_metadata()
        running: list[str] = []

        def migrations_fn(heads: Any, _context: MigrationContext) -> Iterator[RevisionStep]:
            if downgrade:
                steps = downgrade_revs(self.script, target, heads)
            else:
                steps = upgrade_revs(self.script, target, heads)
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
                    target_metadata=target_metadata,
                    output_buffer=buffer,
                    literal_binds=True,
                    **self.configure_options(),
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
            raise cannot_render_offline(where, reason, "run migrate without --sql") from exc
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
        try:
            with op_proxy(operations):
                function()
        except Exception:
            return recorded  # what it did before it needed a database
        return recorded


def _recorder(context: MigrationContext) -> tuple[Operations, list[ops.MigrateOperation]]:
    """Operations that record what a migration issues instead of running it. Alembic's proxy
    (``from alembic import op``) is keyed by class, so the instance is patched, not subclassed."""
    recorded: list[ops.MigrateOperation] = []

    def batch_impl(table_name: str, schema: str | None) -> SimpleNamespace:
        return SimpleNamespace(table_name=table_name, schema=schema)

    return recording_operations(context, recorded.append, batch_impl), recorded


def _lock_reason(wait: LockWait) -> str:
    tries = wait.attempt
    return (
        f"{wait.short_statement} waited for a lock {tries} time{'s' if tries > 1 else ''}, "
        f"{wait.timeout:g} s each (ddl_lock_timeout), blocked by {wait.blocked_by()}"
    )


def _lock_fix(wait: LockWait, dialect: str) -> str:
    pids = ", ".join(str(b.pid) for b in wait.blockers) or "PID"
    end = f"SELECT pg_terminate_backend({pids})" if dialect == "postgresql" else f"KILL {pids}"
    return (
        f"End the blocking transaction ({end}), or raise ddl_lock_timeout or ddl_retries "
        "([tool.manage], or migrate --ddl-lock-timeout/--ddl-retries), then run migrate again."
    )


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
