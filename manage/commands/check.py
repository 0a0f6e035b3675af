"""Check a project for CI in one go (Django's ``check``): settings, models, history, database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from manage.commands.makemigrations import makemigrations
from manage.commands.migrate import migrate
from manage.commands.showmigrations import showmigrations
from manage.core import revisions
from manage.core.database import connect, sqlite_file
from manage.core.discovery import load_metadata
from manage.core.drivers import require_drivers, run_on_driver, settings_urls
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.settings import ModelsSpec, Settings
from manage.errors import ManageError

Status = Literal["ok", "fail", "skip", "warn"]

SETTINGS = "settings"
MODELS = "models import"
FILES = "migration files"
ONE_HEAD = "one head"
IN_SYNC = "models in sync with migrations"
REACHABLE = "database reachable"
AT_HEAD = "database at head"
LINT = "migrations lint"


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One check and its outcome: one line of ``manage check``."""

    name: str
    status: Status
    """``ok``, ``fail``, ``skip`` when a check it depends on failed, or ``warn`` (lint
    findings: shown, but the project passes)."""
    detail: str
    """What was found (``ok``), what is wrong and the fix (``fail``), or why it was skipped."""
    notes: tuple[str, ...] = ()
    """Further lines, e.g. the operations a missing migration would hold."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Every check, in the order they ran."""

    checks: tuple[CheckItem, ...]

    @property
    def failed(self) -> tuple[CheckItem, ...]:
        return tuple(item for item in self.checks if item.status == "fail")

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped checks only follow failed ones)."""
        return not self.failed

    def __getitem__(self, name: str) -> CheckItem:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)


def check(load: Callable[[], Settings], *, database: bool = False) -> CheckResult:
    """Run every check and report each as ok, failed or skipped; never raise for a failed check.

    Args:
        load: returns the project's Settings, e.g. :func:`manage.load_settings`; a
            ``ManageError`` it raises becomes the failed ``settings`` check.
        database: also check that the database is reachable and has every migration applied.
    """
    items: list[CheckItem] = []
    names = [SETTINGS, MODELS, FILES, ONE_HEAD, IN_SYNC] + (
        [REACHABLE, AT_HEAD] if database else []
    )

    try:
        settings = load()
        require_drivers(settings_urls(settings))
    except ManageError as exc:
        items.append(CheckItem(SETTINGS, "fail", str(exc)))
        items += [CheckItem(name, "skip", "settings did not load") for name in names[1:]]
        return CheckResult(tuple(items))
    items.append(CheckItem(SETTINGS, "ok", _settings_origin(settings)))
    items += run_on_driver(settings_urls(settings), _checks, settings, database=database)
    return CheckResult(tuple(items))


def _checks(settings: Settings, *, database: bool) -> list[CheckItem]:
    """The checks after the settings one (on the database's driver)."""
    items = [CheckItem(SETTINGS, "ok", "")]
    items.append(_models(settings))

    env: MigrationEnvironment | None = None
    try:
        env = MigrationEnvironment(settings)
    except ManageError as exc:
        items.append(CheckItem(FILES, "fail", str(exc)))
        items.append(CheckItem(ONE_HEAD, "skip", _SKIP_REASONS[FILES]))
    else:
        too_long = (
            revisions.too_long_id_problem(r.id, env.relative(r.path), settings.version_table)
            for r in env.history()
        )
        if problem := next((p for p in too_long if p), None):
            items.append(CheckItem(FILES, "fail", problem))
        else:
            items.append(CheckItem(FILES, "ok", _files(len(env.revision_ids()))))
        items.append(_one_head(env.heads()))

    skip = _blocked(items, MODELS, FILES, ONE_HEAD)
    items.append(CheckItem(IN_SYNC, "skip", skip) if skip else _in_sync(settings))

    if database:
        items.append(_reachable(settings))
        skip = _blocked(items, FILES, ONE_HEAD, REACHABLE)
        if skip or env is None:
            items.append(CheckItem(AT_HEAD, "skip", skip or _SKIP_REASONS[FILES]))
        else:
            items.append(_at_head(settings, env))
    if env is not None and not _blocked(items, FILES) and settings.dialect_name != "sqlite":
        items += _lint(env)
    return items[1:]


_SKIP_REASONS = {
    MODELS: "models did not import",
    FILES: "migration files are inconsistent",
    ONE_HEAD: "several heads",
    REACHABLE: "database not reachable",
}


def _blocked(items: list[CheckItem], *needs: str) -> str | None:
    """Why a check that needs ``needs`` cannot run: the first of them that did not pass."""
    status = {item.name: item.status for item in items}
    for name in needs:
        if status.get(name) != "ok":
            return _SKIP_REASONS[name]
    return None


def _settings_origin(settings: Settings) -> str:
    origin = settings.source.get("models", "")
    if origin.startswith("pyproject"):
        return str(settings.project_root / "pyproject.toml")
    if origin:
        return f"{origin} ({settings.project_root})"
    return str(settings.project_root)


def _models(settings: Settings) -> CheckItem:
    try:
        found = load_metadata(settings)
    except ManageError as exc:
        return CheckItem(MODELS, "fail", str(exc))
    metadatas = found if isinstance(found, tuple) else (found,)
    tables = sum(len(m.tables) for m in metadatas)
    return CheckItem(MODELS, "ok", f"{_spec(settings.models)} ({_count(tables, 'table')})")


def _spec(spec: ModelsSpec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, tuple):
        return ", ".join(_spec(item) for item in spec)
    module = getattr(spec, "__module__", None)
    name = getattr(spec, "__qualname__", None) or type(spec).__qualname__
    return f"{module}:{name}" if module else str(name)


def _files(count: int) -> str:
    return f"{_count(count, 'file')}, consistent" if count else "(no migrations)"


def _one_head(heads: tuple[str, ...]) -> CheckItem:
    if len(heads) > 1:
        return CheckItem(
            ONE_HEAD,
            "fail",
            f"{len(heads)} heads: {', '.join(heads)} (run 'manage makemigrations --merge')",
        )
    return CheckItem(ONE_HEAD, "ok", heads[0] if heads else "(no migrations)")


def _in_sync(settings: Settings) -> CheckItem:
    try:
        result = makemigrations(settings, check=True)
    except ManageError as exc:
        return CheckItem(IN_SYNC, "fail", str(exc))
    if not result.operations:
        return CheckItem(IN_SYNC, "ok", "no changes detected")
    changes = _count(len(result.operations), "change")
    return CheckItem(
        IN_SYNC,
        "fail",
        f"{changes} without a migration (run 'manage makemigrations')",
        tuple(str(operation) for operation in result.operations),
    )


def _lint(env: MigrationEnvironment) -> list[CheckItem]:
    """A ``warn`` line when a migration has lint findings (none when there are none: the
    lint's gate is ``manage lint``, which exits 1)."""
    from manage.core.lint.engine import lint_revisions

    try:
        linted = lint_revisions(env, [r.id for r in env.history()])
    except ManageError as exc:
        return [CheckItem(LINT, "warn", str(exc))]
    findings = [f for m in linted for f in m.findings]
    if not findings:
        return []
    where = sorted({f.revision for f in findings})
    return [
        CheckItem(
            LINT,
            "warn",
            f"{_count(len(findings), 'finding')} in {', '.join(where)} (run 'manage lint')",
            tuple(f"{f.revision}: {f.rule} {f.name}: {f.subject}" for f in findings),
        )
    ]


def _reachable(settings: Settings) -> CheckItem:
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        # Connecting would create the file; a check must not. Only the folder must exist.
        if not path.parent.is_dir():
            return CheckItem(
                REACHABLE,
                "fail",
                f"{settings.display_url}: the folder {path.parent} does not exist. "
                "Create it, or fix database_url (or DATABASE_URL).",
            )
        return CheckItem(REACHABLE, "ok", f"{settings.display_url} (no file yet)")
    try:
        with connect(settings.database_url):
            pass
    except ManageError as exc:
        return CheckItem(REACHABLE, "fail", str(exc))
    return CheckItem(REACHABLE, "ok", settings.display_url)


def _at_head(settings: Settings, env: MigrationEnvironment) -> CheckItem:
    try:
        steps = migrate(settings, check=True).steps
        current = _current(settings, env)
        warnings = tuple(
            m.edited_warning(settings.project_root)
            for m in showmigrations(settings).migrations
            if m.edited
        )
    except ManageError as exc:
        return CheckItem(AT_HEAD, "fail", str(exc))
    at = f"at {', '.join(current)}" if current else "no migrations applied"
    if not steps:
        return CheckItem(AT_HEAD, "ok", at if current else "(no migrations)", warnings)
    return CheckItem(
        AT_HEAD, "fail", f"{at}, {len(steps)} unapplied (run 'manage migrate')", warnings
    )


def _current(settings: Settings, env: MigrationEnvironment) -> tuple[str, ...]:
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        return ()
    with connect(settings.database_url) as connection:
        return env.current(connection)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
