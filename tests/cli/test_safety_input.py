"""Issue 12, bad input that must give one clear message (exit 3), never a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import Project


@pytest.mark.parametrize(
    "args",
    [["showmigrations"], ["migrate"], ["migrate", "--plan"], ["makemigrations", "--check"]],
)
def test_dotenv_not_utf8_names_the_file_on_every_path(
    sqlite_project: Project, args: list[str]
) -> None:
    """Point 9: the launcher's fast paths and the full CLI say the same thing."""
    (sqlite_project.root / ".env").write_bytes(b"SECRET=caf\xe9\n")
    before = sqlite_project.files()
    for _ in range(2):  # the second run may find remembered answers: same message
        result = sqlite_project.subprocess(*args)
        assert result.returncode == 3, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr == (
            f"Error: {sqlite_project.root / '.env'} is not UTF-8 text. Save it as UTF-8 "
            "(e.g. 'iconv -f latin1 -t utf-8'), or remove the characters that are not.\n"
        )
        assert result.stdout == ""
    assert sqlite_project.files() == before


def test_dotenv_not_utf8_in_process(sqlite_project: Project) -> None:
    (sqlite_project.root / ".env").write_bytes(b"\xff\xfe")
    result = sqlite_project.run("migrate")
    assert result.exit_code == 3
    assert "is not UTF-8 text" in result.output


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "3000000", "-inf"])
def test_lock_timeout_out_of_range_is_a_usage_error(project: Project, value: str) -> None:
    """Point 10: validated before any database work, the same on all three databases."""
    result = project.run("migrate", "--lock-timeout", value)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "--lock-timeout" in result.output  # Click's range box for negatives, ours beyond
    if value in ("inf", "3000000"):
        assert result.output.splitlines()[-1] == (
            "Error: --lock-timeout must be a number of seconds from 0 to 2147483 (about 24 days), "
            f"not {float(value):g}. Leave it out to wait as long as it takes."
        )
    assert project.tables() == set()


def test_lock_timeout_in_range_works(project: Project) -> None:
    result = project.run("migrate", "--lock-timeout", "2147483")
    assert result.exit_code == 0, result.output


AMBIGUOUS = "postgresql+psycopg://app:Tr0ub4dor@3xyzQ@127.0.0.1:5432/shop"


@pytest.mark.parametrize("source", ["environment", "dotenv", "option", "pyproject"])
@pytest.mark.parametrize("command", [["dbshell"], ["migrate"], ["showmigrations"], ["check"]])
def test_unencoded_at_in_password_is_refused_unechoed(
    sqlite_project: Project, source: str, command: list[str]
) -> None:
    """Point 16: no part of the password is printed, and dbshell never starts psql with it."""
    env: dict[str, str] = {}
    args = list(command)
    if source == "environment":
        env["DATABASE_URL"] = AMBIGUOUS
    elif source == "dotenv":
        sqlite_project.write(".env", f"DATABASE_URL={AMBIGUOUS}\n")
    elif source == "option":
        args = ["--database-url", AMBIGUOUS, *command]
    else:
        sqlite_project.edit(
            "pyproject.toml", "[tool.manage]\n", f'[tool.manage]\ndatabase_url = "{AMBIGUOUS}"\n'
        )
    result = sqlite_project.subprocess(*args, env=env)
    output = result.stdout + result.stderr
    assert "Tr0ub4dor" not in output and "3xyzQ" not in output, output
    assert "Traceback" not in output
    assert result.returncode in (1, 3), output  # check reports it as a failed check
    assert "Percent-encode the password: '@' as %40" in output


def test_sqlite_path_with_at_signs_is_not_ambiguous(sqlite_project: Project) -> None:
    folder = sqlite_project.root / "a@b@c"
    folder.mkdir()
    result = sqlite_project.run("--database-url", f"sqlite:///{folder}/db.sqlite3", "migrate")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("value", ["5", "true", "1.5", "{ a = 1 }"])
def test_models_setting_of_the_wrong_type(sqlite_project: Project, value: str) -> None:
    """Point 11: says which setting, where, and what it must be ("'int' is a int" before)."""
    text = (sqlite_project.root / "pyproject.toml").read_text()
    start = text.index("models = ")
    end = text.index("\n", start)
    (sqlite_project.root / "pyproject.toml").write_text(
        f"{text[:start]}models = {value}{text[end:]}"
    )
    result = sqlite_project.subprocess("migrate")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.startswith(
        "Error: models (pyproject.toml [tool.manage]) must name your declarative Base or MetaData"
    ), result.stderr


@pytest.mark.parametrize("target", ["", " "])
def test_migrate_to_an_empty_target_is_a_usage_error(project: Project, target: str) -> None:
    """Point 11: exited 0 with "Target specific migration: " before."""
    result = project.subprocess("migrate", target)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == (
        'Error: The migration target is empty. Name a migration (e.g. 0002), "zero" to unapply '
        "all, or leave it out to apply all."
    )
    assert project.tables() == set()
