"""The pytest plugin: ``manage_settings`` and ``migrated_database`` fixtures, and, with
``--manage-migrations``, built-in tests of the project's migrations.

It is inert until used: nothing is imported or connected unless a test asks for a fixture or
``--manage-migrations`` is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from manage.errors import ManageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from manage.core.settings import Settings
    from manage.core.testdb import TestDatabase


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("manage", "sqlalchemy-manage")
    group.addoption(
        "--manage-migrations",
        action="store_true",
        default=False,
        help="Add manage's migration tests: single head, upgrade, downgrade, models match.",
    )
    group.addoption(
        "--manage-no-template",
        action="store_true",
        default=False,
        help="On PostgreSQL, migrate each session's test database instead of cloning a template.",
    )


class MigratedDatabase:
    """The ``migrated_database`` fixture: a fresh database at head for the test session."""

    def __init__(self, settings: Settings, made: TestDatabase) -> None:
        self.settings = settings
        """The project's settings, pointing at this database."""
        self.url = made.url
        self.template = made.template
        self.reused_template = made.reused
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """An Engine on the database, disposed at the end of the session."""
        if self._engine is None:
            from manage.core.database import make_engine

            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _fail(exc: ManageError) -> None:
    pytest.fail(f"manage: {exc}", pytrace=False)


def _load_settings(config: pytest.Config) -> Settings:
    from manage.core.settings import load_settings

    try:
        return load_settings(cwd=config.rootpath)
    except ManageError as exc:
        _fail(exc)
        raise


@pytest.fixture(scope="session")
def manage_settings(pytestconfig: pytest.Config) -> Settings:
    """The project's Settings, found from pytest's rootdir; override it in conftest.py."""
    return _load_settings(pytestconfig)


def _migrator(settings: Settings) -> Callable[[str], object]:
    def migrate(url: str) -> object:
        from manage.commands import migrate as run_migrate

        # A throwaway database keeps no history: its tables are the migrations' alone.
        on_test = dataclasses.replace(settings, database_url=url)
        return run_migrate(on_test, "head", history=False)

    return migrate


@pytest.fixture(scope="session")
def migrated_database(
    manage_settings: Settings, pytestconfig: pytest.Config
) -> Iterator[MigratedDatabase]:
    """A new database next to the project's, migrated to head, dropped after the session.

    On PostgreSQL the migrated state is kept as a template keyed by a hash of the migration
    files, so later sessions clone it instead of replaying the migrations.
    """
    from manage.core.testdb import test_database

    template = not pytestconfig.getoption("manage_no_template")
    try:
        with test_database(manage_settings, _migrator(manage_settings), template=template) as made:
            database = MigratedDatabase(
                dataclasses.replace(manage_settings, database_url=made.url), made
            )
            try:
                yield database
            finally:
                database.close()
    except ManageError as exc:
        _fail(exc)


# -- the built-in migration tests ------------------------------------------------------------


def run_check(name: str, settings: Settings) -> None:
    """Run the built-in check ``name`` on ``settings``; a ManageError fails the test."""
    try:
        CHECKS[name](settings)
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

    with test_database(settings, _migrator(settings), template=False):
        pass


def _downgrade_and_upgrade(settings: Settings) -> None:
    from manage.commands import migrate
    from manage.core.history import HISTORY_TABLE
    from manage.core.testdb import test_database

    with test_database(settings, _migrator(settings), template=False) as made:
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

    with test_database(settings, _migrator(settings), template=False) as made:
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("manage_migrations"):
        # Real test functions (manage/pytest_checks.py) asking for the manage_settings fixture,
        # so that a conftest.py overriding it applies to them too.
        from manage import pytest_checks

        tests = pytest.Module.from_parent(
            session, path=Path(pytest_checks.__file__), nodeid="manage-migrations"
        )
        items[:0] = [item for item in tests.collect() if isinstance(item, pytest.Item)]


def pytest_report_header(config: pytest.Config) -> Any:
    if config.getoption("manage_migrations"):
        return "manage: built-in migration tests enabled (--manage-migrations)"
    return None
