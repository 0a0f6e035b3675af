"""Settings: found upward, or from a settings module; URL precedence, .env, sources at -v 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, Project

MANAGE_TABLE = '[tool.manage]\nmodels = "shop.models:Base"\n'


def set_table(project: Project, table: str) -> None:
    text = (project.root / "pyproject.toml").read_text()
    (project.root / "pyproject.toml").write_text(text.replace(MANAGE_TABLE, table))


def settings_lines(output: str) -> dict[str, str]:
    return {
        line.split(" = ")[0].strip(): line.split(" = ", 1)[1]
        for line in output.splitlines()
        if line.startswith("  ") and " = " in line
    }


def test_the_table_is_found_from_a_subfolder(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = sqlite_project.root / "shop" / "deep"
    deep.mkdir()
    monkeypatch.chdir(deep)

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert sqlite_project.migrations() == ["0001_initial.py"]


def test_project_option_runs_as_if_started_there(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    result = sqlite_project.run("-C", str(sqlite_project.root), "makemigrations")

    assert result.exit_code == 0, result.output
    assert sqlite_project.migrations() == ["0001_initial.py"]


def test_verbosity_2_shows_where_each_setting_came_from(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_table(
        sqlite_project,
        MANAGE_TABLE + 'database_url = "postgresql+psycopg://app:s3cretpw@db.example/shop"\n',
    )
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from_env.sqlite3")

    result = sqlite_project.run("-v", "2", "showmigrations")

    assert result.exit_code == 0, result.output
    lines = settings_lines(result.stderr)
    root = sqlite_project.root
    assert lines["models"] == "shop.models:Base  (pyproject.toml [tool.manage])"
    assert lines["database_url"] == (
        f"sqlite:///{root}/from_env.sqlite3  (DATABASE_URL environment variable)"
    )
    assert lines["migrations"] == f"{root}/migrations  (default)"
    assert lines["version_table"] == "alembic_version  (default)"
    assert f"Project: {root}" in result.stderr
    assert "s3cretpw" not in result.output


def test_database_url_precedence(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    def shown() -> str:
        result = sqlite_project.run(*flag, "-v", "2", "showmigrations")
        assert result.exit_code == 0, result.output
        return settings_lines(result.stderr)["database_url"]

    root = sqlite_project.root
    flag: list[str] = []
    assert shown() == f"sqlite:///{root}/db.sqlite3  (default)"
    set_table(sqlite_project, MANAGE_TABLE + 'database_url = "sqlite:///settings.sqlite3"\n')
    assert shown() == f"sqlite:///{root}/settings.sqlite3  (pyproject.toml [tool.manage])"
    (root / ".env").write_text("DATABASE_URL=sqlite:///dotenv.sqlite3\n")
    assert shown() == f"sqlite:///{root}/dotenv.sqlite3  (.env)"
    del os.environ["DATABASE_URL"]  # what .env exported; a new process would start without it
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.sqlite3")
    assert shown() == f"sqlite:///{root}/env.sqlite3  (DATABASE_URL environment variable)"
    flag = ["--database-url", "sqlite:////tmp/flag.sqlite3"]
    assert shown() == "sqlite:////tmp/flag.sqlite3  (--database-url)"


def test_relative_sqlite_paths_are_relative_to_the_project_root(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_table(sqlite_project, MANAGE_TABLE + 'database_url = "sqlite:///data/shop.sqlite3"\n')
    (sqlite_project.root / "data").mkdir()
    monkeypatch.chdir(sqlite_project.root / "shop")
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("migrate")

    assert result.exit_code == 0, result.output
    assert (sqlite_project.root / "data/shop.sqlite3").is_file()


def test_custom_migrations_folder_and_version_table(sqlite_project: Project) -> None:
    set_table(
        sqlite_project,
        MANAGE_TABLE + 'migrations = "db/revisions"\nversion_table = "schema_version"\n',
    )

    made = sqlite_project.run("makemigrations")
    migrated = sqlite_project.run("migrate")

    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[1] == "  db/revisions/0001_initial.py"
    assert migrated.exit_code == 0, migrated.output
    assert sqlite_project.tables() == {"author", "book", "schema_version"}


def test_a_migrations_folder_with_its_own_template_uses_it(sqlite_project: Project) -> None:
    template = Path(__file__).parents[2] / "manage/templates/script.py.mako"
    sqlite_project.write("migrations/script.py.mako", "# house style\n" + template.read_text())

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    text = (sqlite_project.root / "migrations/0001_initial.py").read_text()
    assert text.startswith("# house style\n")


SETTINGS_MODULE = """
from shop.models import Base

MODELS = Base
DATABASE_URL = "sqlite:///from_settings.sqlite3"
MIGRATIONS = "schema"
"""


def test_a_settings_module_by_flag_or_environment(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_table(sqlite_project, "")
    sqlite_project.write("shop/settings.py", SETTINGS_MODULE)

    by_flag = sqlite_project.run("--settings", "shop.settings", "-v", "2", "makemigrations")
    monkeypatch.setenv("MANAGE_SETTINGS_MODULE", "shop.settings")
    by_env = sqlite_project.run("-v", "2", "migrate")

    assert by_flag.exit_code == 0, by_flag.output
    assert by_flag.stdout.splitlines()[1] == "  schema/0001_initial.py"
    assert "shop.models.Base  (settings module shop.settings)" in by_flag.stderr
    assert by_env.exit_code == 0, by_env.output
    assert (sqlite_project.root / "from_settings.sqlite3").is_file()


@pytest.mark.parametrize(
    ("models", "extra"),
    [
        ("shop.models", ""),
        (
            "shop.registry:get_base",
            "def get_base():\n    from shop.models import Base\n    return Base\n",
        ),
        ("shop.registry:metadata", "from shop.models import Base\nmetadata = Base.metadata\n"),
    ],
    ids=["module-alone", "callable", "metadata"],
)
def test_models_may_name_a_module_a_callable_or_a_metadata(
    sqlite_project: Project, models: str, extra: str
) -> None:
    sqlite_project.write("shop/registry.py", extra)
    set_table(sqlite_project, f'[tool.manage]\nmodels = "{models}"\n')

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == [
        "    + Create table author",
        "    + Create table book",
    ]


def test_several_bases_and_modules_imported_first(sqlite_project: Project) -> None:
    sqlite_project.write(
        "shop/audit.py",
        """
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class AuditBase(DeclarativeBase):
            pass
        """,
    )
    sqlite_project.write(
        "shop/plugins/events.py",
        """
        from sqlalchemy.orm import Mapped, mapped_column

        from shop.audit import AuditBase


        class Event(AuditBase):  # registers on import: nothing imports this module
            __tablename__ = "event"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    )
    set_table(
        sqlite_project,
        '[tool.manage]\nmodels = ["shop.models:Base", "shop.audit:AuditBase"]\n'
        'import = ["shop.plugins.events"]\n',
    )

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 0, result.output
    assert "    + Create table event" in result.stdout.splitlines()


def test_help_works_outside_any_project(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "manage"), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "makemigrations" in result.stdout
    assert "showmigrations" in result.stdout


def test_python_dash_m_manage_and_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "manage", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sqlalchemy-manage ")
