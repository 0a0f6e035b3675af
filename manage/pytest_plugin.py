"""The pytest plugin: ``manage_settings`` and ``migrated_database`` fixtures, and, with
``--manage-migrations``, built-in tests of the project's migrations.

It is inert until used: nothing is imported or connected unless a test asks for a fixture or
``--manage-migrations`` is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from manage.errors import ManageError
from manage.pytest_builtin import _fail, _migrator

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


@pytest.fixture(scope="session")
def migrated_database(
    manage_settings: Settings, pytestconfig: pytest.Config
) -> Iterator[MigratedDatabase]:
    """A new database next to the project's, migrated to head, dropped after the session.

    On PostgreSQL the migrated state is kept as a template keyed by a hash of the migration
    files, so later sessions clone it instead of replaying the migrations.
    """
    from manage.core.drivers import run_on_driver, settings_urls
    from manage.core.testdb import test_database

    template = not pytestconfig.getoption("manage_no_template")
    urls = settings_urls(manage_settings)  # an asyncio driver's: made and dropped through it
    try:
        making = test_database(manage_settings, _migrator(manage_settings), template=template)
        made = run_on_driver(urls, making.__enter__)
        try:
            database = MigratedDatabase(
                dataclasses.replace(manage_settings, database_url=made.url), made
            )
            try:
                yield database
            finally:
                database.close()
        finally:
            run_on_driver(urls, making.__exit__, None, None, None)
    except ManageError as exc:
        _fail(exc)


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
