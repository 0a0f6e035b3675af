"""Whether a folder lies inside an installed copy of a package (site-packages), where a written
migration would be lost on the next install."""

from __future__ import annotations

import sysconfig
from pathlib import Path

_INSTALL_FOLDERS = ("site-packages", "dist-packages")


def installed_location(folder: Path) -> Path | None:
    """The site-packages (or dist-packages) folder ``folder`` lies in, or None."""
    resolved = folder.resolve()
    for parent in (resolved, *resolved.parents):
        if parent.name in _INSTALL_FOLDERS:
            return parent
    for key in ("purelib", "platlib"):
        where = sysconfig.get_paths().get(key)
        if where and resolved.is_relative_to(Path(where).resolve()):
            return Path(where)
    return None


def installed_problem(folder: Path, shown: str) -> str | None:
    """Why no migration should be written into ``folder`` (shown as ``shown``), or None."""
    location = installed_location(folder)
    if location is None:
        return None
    return (
        f"The migrations folder {shown} is inside an installed package ({location}), where a "
        "migration written now is lost on the next install. Run makemigrations in the "
        "project's source tree (installed with 'pip install -e .'), or point the migrations "
        "setting at the source folder."
    )
