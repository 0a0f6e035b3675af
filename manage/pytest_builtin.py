"""The built-in migration checks (single head, upgrade, downgrade, models match) that the
tests of :mod:`manage.pytest_checks` run, and what the plugin's fixtures share with them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from manage.errors import ManageError

if TYPE_CHECKING:
    from manage.core.settings import Settings


def _fail(exc: ManageError) -> None:
    pytest.fail(f"manage: {exc}", pytrace=False)


def _migrator(settings: Settings, *, step_by_step: bool = False) -> Callable[[str], object]:
    """Migrate a new test database to head: fast-forwarded when the history allows (the
    ``migrated_database`` fixture), or ``step_by_step`` (the built-in tests, which test the
    migrations themselves)."""

    def migrate(url: str) -> object:
        from manage.commands import migrate as run_migrate

        # A throwaway database keeps no history: its tables are the migrations' alone.
        on_test = dataclasses.replace(settings, database_url=url)
        return run_migrate(on_test, "head", history=False, step_by_step=step_by_step)

    return migrate


# -- the built-in migration tests ------------------------------------------------------------


def run_check(name: str, settings: Settings) -> None:
    """Run the built-in check ``name`` on ``settings``; a ManageError fails the test."""
    from manage.core.drivers import run_on_driver, settings_urls

    try:
        run_on_driver(settings_urls(settings), CHECKS[name], settings)
    except ManageError as exc:
        _fail(exc)


def _single_head(settings: Settings) -> None:
    from manage.core.migrations.environment import MigrationEnvironment

    heads = MigrationEnvironment(settings).heads()
    if len(heads) > 1:
        pytest.fail(
            f"The migrations have {len(heads)} heads: {', '.join(heads)}. "
            "Run 'manage makemigrations --merge' to join them.",
            pytrace=False,
        )


def _upgrade(settings: Settings) -> None:
    from manage.core.testdb import test_database

    with test_database(settings, _migrator(settings, step_by_step=True), template=False):
        pass


def _downgrade_and_upgrade(settings: Settings) -> None:
    from manage.commands import migrate
    from manage.core.history import HISTORY_TABLE
    from manage.core.testdb import test_database

    with test_database(settings, _migrator(settings, step_by_step=True), template=False) as made:
        on_test = dataclasses.replace(settings, database_url=made.url)
        migrate(on_test, "zero", allow_data_loss=True, history=False)
        left = _tables(made.url) - {settings.version_table, HISTORY_TABLE}
        if left:
            pytest.fail(
                "After unapplying every migration these tables are left: "
                f"{', '.join(sorted(left))}. Drop them in the downgrade() of the migration "
                "that creates them.",
                pytrace=False,
            )
        migrate(on_test, "head", history=False)


def _models_match(settings: Settings) -> None:
    from manage.core.testdb import compare_models, test_database

    with test_database(settings, _migrator(settings, step_by_step=True), template=False) as made:
        difference = compare_models(settings, made.url)
    if difference.operations:
        lines = "\n".join(f"    {op}" for op in difference.operations)
        pytest.fail(
            "The models differ from the schema the migrations produce:\n"
            f"{lines}\n\nRun 'manage makemigrations' to write a migration with:\n\n"
            f"{difference.code}",
            pytrace=False,
        )


def _tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    from manage.core.database import connect

    with connect(url) as connection:
        return set(inspect(connection).get_table_names())


CHECKS: dict[str, Callable[[Settings], None]] = {
    "test_single_head": _single_head,
    "test_upgrade": _upgrade,
    "test_downgrade_and_upgrade": _downgrade_and_upgrade,
    "test_models_match_migrations": _models_match,
}
