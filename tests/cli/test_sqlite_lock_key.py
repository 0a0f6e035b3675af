"""Issue 12 point 14: the SQLite lock is keyed by the real database file, whatever the URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.test_locking import RUNS, audit_rows, start, write_audited_history
from tests.conftest import Project


@pytest.mark.parametrize("form", ["uri", "symlink"])
def test_concurrent_runs_through_other_url_forms_share_one_lock(
    sqlite_project: Project, form: str
) -> None:
    project = sqlite_project
    write_audited_history(project)
    real = project.root / "db.sqlite3"
    link = project.root / "link.sqlite3"
    link.symlink_to(real)
    urls = {
        "uri": [f"sqlite:///file:{real}?uri=true"] * RUNS,
        "symlink": [f"sqlite:///{real}", f"sqlite:///{link}"] * (RUNS // 2),
    }[form]
    runs = []
    for i, url in enumerate(urls):
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "DATABASE_URL": url}
        runs.append(start(["--no-color", "migrate"], project.root, project.root / f"r{i}", env))
    codes = [run.wait(timeout=120) for run in runs]
    errors = [(project.root / f"r{i}.err").read_text() for i in range(RUNS)]
    assert codes == [0] * RUNS, errors
    assert audit_rows(project) == ["0001_audit_log", "0002_author", "0003_book"]
    assert not Path(f"{real}-manage-lock").exists()


def test_lock_file_is_not_opened_through_a_symlink(sqlite_project: Project) -> None:
    project = sqlite_project
    write_audited_history(project)
    victim = project.root / "victim"
    victim.write_text("keep")
    Path(f"{project.root / 'db.sqlite3'}-manage-lock").symlink_to(victim)
    result = project.subprocess("migrate")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Could not create the migration lock file" in result.stderr
    assert victim.read_text() == "keep"
