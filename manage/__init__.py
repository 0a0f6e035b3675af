"""sqlalchemy-manage: Django's manage.py experience for plain SQLAlchemy projects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from manage.errors import ManageError

__version__ = "0.1.0"
__all__ = [
    "Context",
    "ManageError",
    "Settings",
    "__version__",
    "call_command",
    "command",
    "load_all_settings",
    "load_settings",
]

if TYPE_CHECKING:
    from manage.api import call_command
    from manage.core.plugins import Context, command
    from manage.core.settings import Settings, load_all_settings, load_settings

_LAZY = {
    "Settings": "manage.core.settings",
    "load_settings": "manage.core.settings",
    "load_all_settings": "manage.core.settings",
    "command": "manage.core.plugins",
    "Context": "manage.core.plugins",
    "call_command": "manage.api",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that `manage --help` does not import SQLAlchemy or Alembic.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'manage' has no attribute {name!r}")
