"""sqlalchemy-manage: Django's manage.py experience for plain SQLAlchemy projects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from manage.errors import ManageError

__version__ = "0.1.0"
__all__ = ["ManageError", "Settings", "__version__", "load_settings"]

if TYPE_CHECKING:
    from manage.core.settings import Settings, load_settings


def __getattr__(name: str) -> Any:
    # Lazy, so that `manage --help` does not import SQLAlchemy or Alembic.
    if name in ("Settings", "load_settings"):
        from manage.core import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'manage' has no attribute {name!r}")
