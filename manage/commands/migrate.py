"""Apply or unapply migrations (Django's ``migrate``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from manage.core.dataloss import DataLoss
    from manage.core.migrations.ddl_locks import LockWait
    from manage.core.replay import SchemaState

from manage.core.database import connect, database_exists
from manage.core.drivers import on_driver
from manage.core.lint.engine import Finding
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import BASE, Step
from manage.core.safety import destructive
from manage.core.settings import Settings
from manage.errors import MigrationError


@dataclass(frozen=True, slots=True)
class MigrateResult:
    """The steps of a migrate run, and whether they ran."""

    target: str
    """The resolved target revision id, or ``zero``."""
    steps: tuple[Step, ...]
    executed: bool
    """False for ``plan``, ``check`` and ``sql``."""
    fake: bool = False
    sql: str | None = None
    faked: tuple[Step, ...] = ()
    """With ``fake_initial``: the first migration, recorded without running (its tables exist);
    with ``plan`` too, the one that would be."""
    warnings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """With ``plan``: per revision, the operations that lose data or break writes."""
    lint: Mapping[str, tuple[Finding, ...]] = field(default_factory=dict)
    """With ``plan``: per migration to apply, its lint findings (``manage lint``)."""
    fast_forwarded: bool = False
    """The steps were applied to an empty database in one pass (issue 15): the schema they
    lead to created from the replayed history, every migration recorded; with ``plan``, they
    would be (decided as the run decides it)."""
    step_by_step_because: str | None = None
    """Why an empty database was migrated step by step rather than fast-forwarded (the
    migration that made it fall back), when it was not asked for; with ``plan``, why it would
    be."""


def _ignore(_step: Step) -> None:
    return None


def _ignore_reason(_reason: str) -> None:
    return None


def _nothing() -> None:
    return None


def _ignore_wait(_wait: LockWait) -> None:
    return None


def _with_ddl_options(settings: Settings, timeout: float | None, retries: int | None) -> Settings:
    """``settings`` with ``--ddl-lock-timeout`` / ``--ddl-retries`` applied.

    Raises:
        UsageError: a value out of range.
    """
    from manage.core.migrations.ddl_locks import check_ddl_option
    from manage.errors import UsageError

    changes: dict[str, float | int] = {}
    fix = "Pass another value."
    if timeout is not None:
        changes["ddl_lock_timeout"] = check_ddl_option(
            "ddl_lock_timeout", timeout, "--ddl-lock-timeout", UsageError, fix
        )
    if retries is not None:
        changes["ddl_retries"] = int(
            check_ddl_option("ddl_retries", retries, "--ddl-retries", UsageError, fix)
        )
    return replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


@on_driver
def migrate(
    settings: Settings,
    target: str = "head",
    *,
    fake: bool = False,
    plan: bool = False,
    sql: bool = False,
    check: bool = False,
    fake_initial: bool = False,
    on_start: Callable[[Step], None] = _ignore,
    on_done: Callable[[Step], None] = _ignore,
    on_faked: Callable[[Step], None] = _ignore,
    lock_timeout: float | None = None,
    on_wait: Callable[[], None] = _nothing,
    allow_data_loss: bool = False,
    confirm_data_loss: Callable[[tuple[DataLoss, ...]], bool] | None = None,
    history: bool = True,
    ddl_lock_timeout: float | None = None,
    ddl_retries: int | None = None,
    on_retry: Callable[[LockWait], None] = _ignore_wait,
    step_by_step: bool = False,
    on_step_by_step: Callable[[str], None] = _ignore_reason,
) -> MigrateResult:
    """Bring the database to ``target``: ``head``, a revision id or unique prefix, or ``zero``.

    A target behind the database's current revision unapplies migrations, as in Django.

    Args:
        fake: record the target in the version table without running the migrations.
        plan: only work out the steps, and on an empty database whether the run would
            fast-forward them (``fast_forwarded``) or why not (``step_by_step_because``).
            Writes nothing to the database.
        sql: return the SQL instead of running it; touches no database. ``target`` may be
            ``FROM:TO``; without FROM the SQL starts from an empty database.
        check: like ``plan``; the caller exits 1 when steps are pending.
        fake_initial: on a database without recorded migrations, record the first migration
            without running it when every table it creates exists already (a legacy database).
        on_start: called before each migration runs.
        on_done: called after each migration has run and been recorded.
        lock_timeout: seconds to wait for another ``migrate`` on the same database to finish;
            None waits as long as it takes.
        on_wait: called once when another ``migrate`` holds the lock and waiting begins.
        allow_data_loss: unapply even when that drops tables or columns holding rows.
        confirm_data_loss: asked, with the tables and columns and their row counts, before
            unapplying would drop data; True goes ahead. Without it (and without
            ``allow_data_loss``) such an unapply is refused.
        history: record each migration in the history table (core/history.py); False for
            throwaway databases, such as the pytest plugin's test databases.
        ddl_lock_timeout: seconds each DDL statement may wait for a lock (0: no limit); None
            takes the ``ddl_lock_timeout`` setting.
        ddl_retries: how often a DDL statement that timed out is tried again; None takes the
            ``ddl_retries`` setting.
        on_retry: called when a DDL statement timed out and is about to be tried again.
        step_by_step: run each migration in turn even on an empty database. Without it, an
            empty database (nothing in it but the history table) is fast-forwarded when every
            migration to apply is one the in-memory replay follows exactly: the target's schema
            is created in one pass and every migration recorded (core/migrations/fastforward.py).
        on_step_by_step: told why an empty database is migrated step by step after all (which
            migration made it fall back), before the first migration runs.

    Raises:
        RevisionNotFoundError: unknown target, or the database is at a revision not on disk.
        MultipleHeadsError: ``head`` with a branched history.
        MigrationError: a migration failed.
        LockTimeoutError: another ``migrate`` held the lock for more than ``lock_timeout``.
        DdlLockTimeoutError: a DDL statement could not take its lock in ``ddl_retries`` tries.
        DataLossError: unapplying would drop data, and it was neither allowed nor confirmed.
        UsageError: ``lock_timeout`` is out of range.
    """
    from manage.core.locking import check_lock_timeout

    check_lock_timeout(lock_timeout)
    settings = _with_ddl_options(settings, ddl_lock_timeout, ddl_retries)
    if not target.strip():
        from manage.errors import UsageError

        raise UsageError(
            'The migration target is empty. Name a migration (e.g. 0002), "zero" to unapply '
            "all, or leave it out to apply all."
        )
    env = MigrationEnvironment(settings)
    if sql:
        start, _, end = target.rpartition(":")
        resolved = env.resolve(end or "head")
        text = env.sql(resolved, env.resolve(start) if start else None)
        return MigrateResult(_label(resolved), (), executed=False, sql=text)
    resolved = env.resolve(target)
    if (plan or check) and not database_exists(settings.database_url):
        steps = tuple(env.plan((), resolved))
        # A SQLite file not there yet: the run would start from an empty database.
        state, because = (
            _fast_forward_decision(env, None, steps, fake=fake, step_by_step=step_by_step)
            if plan and not check
            else (None, "")
        )
        return MigrateResult(
            _label(resolved), steps, False, warnings=_warnings(env, steps, plan),
            lint=_lint(env, steps, plan), fast_forwarded=state is not None,
            step_by_step_because=because or None,
        )  # fmt: skip
    with connect(settings.database_url) as connection:
        steps, purge = _plan(env, connection, resolved, fake=fake)
        faked: tuple[Step, ...] = ()
        if plan or check:
            if fake_initial and not fake and steps and not env.current(connection):
                faked = _initial_to_fake(env, connection, steps[0])  # would be faked
            warnings = _warnings(env, steps[len(faked) :], plan)
            state, because = (
                _fast_forward_decision(
                    env, connection, steps, fake=fake, step_by_step=step_by_step, faked=faked
                )
                if plan and not check
                else (None, "")
            )
            return MigrateResult(
                _label(resolved), steps, False, fake=fake, faked=faked, warnings=warnings,
                lint=_lint(env, steps[len(faked) :], plan and not fake),
                fast_forwarded=state is not None, step_by_step_because=because or None,
            )  # fmt: skip
        if not steps and not purge:  # at the target already: no lock, no second query
            return MigrateResult(_label(resolved), steps, executed=True, fake=fake)
        from manage.core.locking import migration_lock

        because = ""
        with migration_lock(
            connection,
            settings.database_url,
            timeout=lock_timeout,
            on_wait=on_wait,
        ):
            # Another run may have migrated while we waited: plan again from what it left.
            steps, purge = _plan(env, connection, resolved, fake=fake)
            if fake_initial and not fake and steps and not env.current(connection):
                faked = _initial_to_fake(env, connection, steps[0])
            if not fake and not allow_data_loss and any(s.direction == "unapply" for s in steps):
                from manage.core.dataloss import data_at_risk, refusal

                losses = data_at_risk(env, connection, steps)
                if losses and confirm_data_loss is None:
                    raise refusal(losses, declined=False)
                if losses and confirm_data_loss is not None and not confirm_data_loss(losses):
                    raise refusal(losses, declined=True)
            state, because = _fast_forward_decision(
                env, connection, steps, fake=fake, step_by_step=step_by_step, faked=faked
            )
            if state is not None:
                from manage.core.migrations.fastforward import fast_forward

                fast_forward(env, connection, state, steps, resolved, history=history)
                return MigrateResult(_label(resolved), steps, executed=True, fast_forwarded=True)
            if because:
                on_step_by_step(because)
            if faked:
                env.run(connection, faked, faked[0].revision, fake=True, history=history)
                on_faked(faked[0])
            env.run(
                connection,
                steps[len(faked) :],
                resolved,
                fake=fake,
                purge=purge,
                history=history,
                on_start=on_start,
                on_done=on_done,
                on_retry=on_retry,
            )
    return MigrateResult(
        _label(resolved),
        steps,
        executed=True,
        fake=fake,
        faked=faked,
        step_by_step_because=because or None,
    )


def _fast_forward_decision(
    env: MigrationEnvironment,
    connection: Connection | None,
    steps: tuple[Step, ...],
    *,
    fake: bool,
    step_by_step: bool,
    faked: tuple[Step, ...] = (),
) -> tuple[SchemaState | None, str]:
    """Whether migrating along ``steps`` fast-forwards the database: the one decision, made by
    the run (under its lock) and by ``plan`` alike, so that they cannot disagree. Reads the
    database, writes nothing.

    Returns:
        The schema to create in one pass (the replay's, cached by ``replay_cached``) and "";
        or None and why not: the migration that makes it fall back, or "" when there is
        nothing to explain (``fake``; ``step_by_step`` asked for; a first migration ``faked``
        by ``--fake-initial``; a database that is not empty; one migration, which runs in one
        pass anyway; unapplying). ``connection`` None: the database does not exist yet (a SQLite
        file), so it would start empty.
    """
    from manage.core.migrations.fastforward import database_is_fresh, fast_forward_state
    from manage.errors import UnreplayableError

    if fake or step_by_step or faked:
        return None, ""
    if len(steps) < 2 or any(step.direction != "apply" for step in steps):
        return None, ""
    if connection is not None and (env.current(connection) or not database_is_fresh(connection)):
        return None, ""
    try:
        return fast_forward_state(env, steps), ""
    except UnreplayableError as exc:
        return None, str(exc)


def _initial_to_fake(
    env: MigrationEnvironment, connection: Connection, step: Step
) -> tuple[Step, ...]:
    """``(step,)`` when ``step`` is a first migration whose tables all exist already."""
    if step.direction != "apply":
        return ()
    tables = env.created_tables(step.revision, connection.dialect.name)
    if not tables:
        return ()
    existing = set(inspect(connection).get_table_names())
    present = [t for t in tables if t in existing]
    if len(present) == len(tables):
        return (step,)
    if present:
        missing = [t for t in tables if t not in existing]
        raise MigrationError(
            f"--fake-initial: {step.revision} creates {', '.join(tables)}, but only "
            f"{', '.join(present)} exist (not {', '.join(missing)}), so it can be neither faked "
            "nor applied. Create or drop those tables by hand so that all or none exist."
        )
    return ()


def _plan(
    env: MigrationEnvironment, connection: Connection, resolved: str, *, fake: bool
) -> tuple[tuple[Step, ...], bool]:
    """The steps from the database's recorded state to ``resolved``, and whether ``--fake``
    must first clear revisions that are no longer on disk."""
    current = env.current(connection)
    purge = fake and bool(env.unknown(current))
    if purge:
        current = ()
    else:
        env.ensure_known(current)
    return tuple(env.plan(current, resolved)), purge


def _warnings(
    env: MigrationEnvironment, steps: tuple[Step, ...], wanted: bool
) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for step in steps if wanted else ():
        operations = env.operations_of(step.revision, backwards=step.direction == "unapply")
        warnings = tuple(w for op in operations if (w := destructive(op)))
        if warnings:
            found[step.revision] = warnings
    return found


def _lint(
    env: MigrationEnvironment, steps: tuple[Step, ...], wanted: bool
) -> dict[str, tuple[Finding, ...]]:
    applying = [s.revision for s in steps if s.direction == "apply"]
    if not wanted or not applying or env.settings.dialect_name == "sqlite":
        return {}
    from manage.core.lint.engine import lint_revisions

    return {m.revision: m.findings for m in lint_revisions(env, applying) if m.findings}


def _label(resolved: str) -> str:
    return "zero" if resolved == BASE else resolved
