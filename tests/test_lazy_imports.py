"""migrate and showmigrations load only what they use: not makemigrations' questions and
formatting, --update, or what sqlmigrate and squashmigrations run on."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Project

PROBE = """
import sys
from manage.cli import main
sys.argv = ["manage", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith("manage."))), file=sys.stderr)
"""
NOT_NEEDED = {
    "manage.commands.update",
    "manage.core.questions",
    "manage.core.formatting",
    "manage.core.offline",
}


def test_migrate_and_showmigrations_import_lazily(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    for command in (["migrate"], ["migrate"], ["showmigrations"]):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *command],
            cwd=sqlite_project.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        loaded = set(done.stderr.split())
        assert "manage.commands.migrate" in loaded or command == ["showmigrations"], done.stderr
        assert loaded & NOT_NEEDED == set(), command
