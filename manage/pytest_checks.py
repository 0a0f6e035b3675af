"""The built-in migration tests that ``pytest --manage-migrations`` adds.

Real test functions, collected by :mod:`manage.pytest_plugin`, so that they get their Settings
from the ``manage_settings`` fixture, which a project's ``conftest.py`` may override.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from manage.pytest_builtin import run_check

if TYPE_CHECKING:
    from manage.core.settings import Settings


def test_single_head(manage_settings: Settings) -> None:
    """The migrations have one head."""
    run_check("test_single_head", manage_settings)


def test_upgrade(manage_settings: Settings) -> None:
    """Every migration applies, from an empty database to head."""
    run_check("test_upgrade", manage_settings)


def test_downgrade_and_upgrade(manage_settings: Settings) -> None:
    """Unapplying every migration leaves no table behind, and they apply again."""
    run_check("test_downgrade_and_upgrade", manage_settings)


def test_models_match_migrations(manage_settings: Settings) -> None:
    """The models match the schema the migrations produce."""
    run_check("test_models_match_migrations", manage_settings)
