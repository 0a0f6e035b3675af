"""Results rendered as the lines the user reads: one copy of each, for the launcher and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from manage.core.revisions import Operation

NO_CHANGES = "No changes detected\n"
PENDING = "Model changes without a migration:"


def check_lines(
    path: Path | None, operations: Sequence[Operation], project_root: Path
) -> list[str]:
    """What ``makemigrations --check`` prints when the migration to write would be ``path``
    (None: nothing to write): the first line is a heading."""
    if path is None:
        return ["No changes detected"]
    try:
        shown = str(path.relative_to(project_root))
    except ValueError:
        shown = str(path)
    from manage.light.installed import installed_problem

    folder = str(Path(shown).parent)
    return [
        PENDING,
        *(f"    {operation}" for operation in operations),
        installed_problem(path.parent, folder) or f"Run 'manage makemigrations' to write {shown}.",
    ]
