"""Issue 12 point 11: a malformed migration file is named, with the fix, by every command.

Before, a null byte gave "Migration file ? ... line None", ``revision = 2`` or ``None`` a
TypeError from inside Alembic, ``down_revision = 5`` or ``[..., 3]`` a traceback, a self-loop
"Migration in migrations has revision = '?'", a longer cycle no file at all, and
``branch_labels = 5`` passed silently. Each case below runs each command that loads the history,
after the good part of the history was applied (so the quick path of ``showmigrations`` and
``migrate`` could answer): exit 3 (``check``: exit 1 with a [FAIL] line), the one message naming
the file and the fix, no traceback, nothing written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest

from tests.cli.test_bad_input import MIGRATION
from tests.conftest import Project

GOOD = MIGRATION.format(rev="0003_c", down="0002_b").lstrip("\n")
TYPE_FIX = {
    "down_revision": "Set it to the id of the migration before this one (a string), a list of "
    "ids for a merge, or None for the first migration.",
    "branch_labels": "Use a string, a list of strings, or leave branch_labels out.",
    "depends_on": "Use the id (or branch label) of a migration as a string, a list of them, or "
    "leave depends_on out.",
}
WHERE = "migrations/0003_c.py"


@dataclass(frozen=True)
class Bad:
    id: str
    content: bytes
    message: str


def replaced(old: str, new: str) -> bytes:
    assert old in GOOD
    return GOOD.replace(old, new, 1).encode()


def ill_typed(name: str, value: str) -> Bad:
    line = f"{name} = {value}"
    content = (
        replaced("down_revision = '0002_b'", line)
        if name == "down_revision"
        else GOOD.encode() + f"{line}\n".encode()
    )
    return Bad(
        f"{name}-{value}",
        content,
        f"Migration {WHERE} has {line}, which is neither None, a string nor a list of strings. "
        f"{TYPE_FIX[name]}",
    )


def not_a_string(value: str) -> Bad:
    return Bad(
        f"revision-{value}",
        replaced('revision = "0003_c"', f"revision = {value}"),
        f"Migration {WHERE} has revision = {value}, which is not a string. Use a string, e.g. "
        "the file's name without .py, '0003_c' (and fix any down_revision that points at it).",
    )


CASES = [
    Bad(
        "null-byte",
        replaced("def upgrade", "\0def upgrade"),
        f"Migration file {WHERE} contains a null byte (line 8), so it is not Python source: a "
        "binary or damaged file. Restore it from version control, or remove the null bytes.",
    ),
    Bad(
        "latin-1-in-a-string",
        replaced('"t_0003_c"', '"caf\xe9"').decode().encode("latin-1"),
        f"Migration file {WHERE} has a syntax error at line 9: (unicode error) 'utf-8' codec "
        "can't decode byte 0xe9 in position 3: unexpected end of data. Save it as UTF-8, or "
        "declare the encoding it is in on its first line (# -*- coding: latin-1 -*-).",
    ),
    Bad(
        "unknown-encoding",
        b"# -*- coding: nope -*-\n" + GOOD.encode(),
        f"Migration file {WHERE} has a syntax error: unknown encoding: nope. Save it as UTF-8, "
        "or declare the encoding it is in on its first line (# -*- coding: latin-1 -*-).",
    ),
    Bad(
        "truncated",
        GOOD.encode()[: GOOD.index("def downgrade") + 10],  # Python's words vary: "…"
        f"Migration file {WHERE} has a syntax error at line 12: … Fix the file.",
    ),
    Bad(
        "empty",
        b"",
        f"Migration file {WHERE} sets no revision. Add revision = '0003_c' (the file's name "
        "without .py) and its down_revision.",
    ),
    not_a_string("2"),
    not_a_string("None"),
    not_a_string("['0003_c']"),
    Bad(
        "no-down-revision",
        replaced("down_revision = '0002_b'\n", ""),
        f"Migration {WHERE} sets no down_revision. Add down_revision = the id of the migration "
        "before it, or None for the first migration.",
    ),
    ill_typed("down_revision", "5"),
    ill_typed("down_revision", "['0002_b', 3]"),
    ill_typed("down_revision", "{'0002_b': 1}"),
    ill_typed("branch_labels", "5"),
    ill_typed("branch_labels", "[5]"),
    ill_typed("depends_on", "5"),
    Bad(
        "self-loop",
        replaced("down_revision = '0002_b'", "down_revision = '0003_c'"),
        f"Migration {WHERE} has down_revision = '0003_c': its own revision, so it would have "
        f"to run before itself. {TYPE_FIX['down_revision']}",
    ),
    Bad(
        "depends-on-itself",
        GOOD.encode() + b'depends_on = "0003_c"\n',
        f"Migration {WHERE} has depends_on = '0003_c': its own revision, so it would have to "
        f"run before itself. {TYPE_FIX['depends_on']}",
    ),
    Bad(
        "down-revision-points-nowhere",
        replaced("down_revision = '0002_b'", "down_revision = '0002_x'"),
        f"Migration {WHERE} has down_revision = '0002_x', but no migration has that id (did "
        "you mean '0002_b'?). Point down_revision at an existing migration.",
    ),
]


@pytest.fixture
def applied(sqlite_project: Project) -> Project:
    """0001_a and 0002_b, applied."""
    for rev, down in (("0001_a", None), ("0002_b", "0001_a")):
        sqlite_project.write(f"migrations/{rev}.py", MIGRATION.format(rev=rev, down=down))
    assert sqlite_project.run("migrate").exit_code == 0
    return sqlite_project


def assert_refused(project: Project, message: str) -> None:
    """Each command: exit 3 and ``message`` alone on stderr ("…" in it matches any text)."""
    expected = re.compile("Error: " + ".*".join(map(re.escape, message.split("…"))) + "\n")
    before_files = project.files()
    before_db = (project.tables(), project.version())
    for args in (("showmigrations",), ("migrate",)):  # the launcher, with its quick path
        result = project.subprocess("--no-color", *args)
        assert (result.returncode, result.stdout) == (3, ""), result.stderr
        assert expected.fullmatch(result.stderr), result.stderr
    for args in (
        ("makemigrations",),
        ("makemigrations", "--check"),
        ("migrate", "--plan"),
        ("sqlmigrate", "0001_a"),
    ):
        result = project.run(*args)
        assert (result.exit_code, result.stdout) == (3, ""), result.output
        assert expected.fullmatch(result.stderr), result.stderr
    result = project.run("check")
    assert result.exit_code == 1, result.output
    failed = [line for line in result.stdout.splitlines() if line.startswith("[FAIL]")]
    assert len(failed) == 1, result.stdout
    assert expected.fullmatch(failed[0].replace("[FAIL] migration files: ", "Error: ") + "\n")
    assert "Traceback" not in result.output
    assert project.files() == before_files, "nothing may be written"
    assert (project.tables(), project.version()) == before_db


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_malformed_migration_file_is_named(applied: Project, case: Bad) -> None:
    (applied.root / WHERE).write_bytes(case.content)
    assert_refused(applied, case.message)


def test_a_cycle_names_its_files(applied: Project) -> None:
    """0001_a -> 0003_c -> 0002_b -> 0001_a: before, "The migration history in migrations/ is
    inconsistent: Cycle is detected in revisions (...)", no file named."""
    applied.write(WHERE, GOOD)
    applied.edit("migrations/0001_a.py", "down_revision = None", "down_revision = '0003_c'")

    assert_refused(
        applied,
        "The migrations migrations/0001_a.py, migrations/0002_b.py and migrations/0003_c.py "
        "form a cycle (0001_a -> 0003_c -> 0002_b -> 0001_a: each comes after the next through "
        "down_revision or depends_on), so none of them can run first. Point the down_revision "
        "(or depends_on) of one of them at a migration outside the cycle, or at None if it is "
        "the first migration.",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("sqlmigrate", ""),
        ("sqlmigrate", " "),
        ("squashmigrations", " ", "0002_b"),  # an empty START is the default: the first
        ("migrate", "--sql", " :0002_b"),
    ],
)
def test_an_empty_migration_name_is_a_usage_error(applied: Project, argv: tuple[str, ...]) -> None:
    """``sqlmigrate ""`` showed the one migration of a one-migration history (a prefix of
    every id), ``squashmigrations " " 0002_b`` said "ambiguous"."""
    before = applied.files()

    result = applied.run(*argv)

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: The migration name is empty. Give a migration's id or a unique prefix of it "
        "(e.g. 0002); 'manage showmigrations' lists them.\n"
    )
    assert applied.files() == before


# -- settings of the wrong TOML type (point 11: ``models = 5`` gave "'int' is a int") ------------

STRING_SETTINGS = [
    "database_url",
    "migrations",
    "version_table",
    "version_table_schema",
    "include_object",
    "shadow_database_url",
]
LIST_SETTINGS = ["import", "exclude_tables", "commands"]
WRONG_TYPES = {
    "5": 5,
    "1.5": 1.5,
    "true": True,
    "2024-01-01": dt.date(2024, 1, 1),
    "[1, 2]": [1, 2],
    "{ a = 1 }": {"a": 1},
}
ORIGIN = "pyproject.toml [tool.manage]"


def expected_type_error(key: str, value: object) -> str:
    if key == "models":
        return (
            f"models ({ORIGIN}) must name your declarative Base or MetaData, as "
            f'"yourpackage.models:Base" or a list of such names, not {value!r}. Fix the setting.'
        )
    if key == "migrations" and isinstance(value, dict):  # a folder per dialect (docs/settings.md)
        return (
            f"migrations ({ORIGIN}) has the key 'a', which is no dialect: use sqlite, postgresql, "
            "mysql, mariadb, mssql, oracle, default. Fix the setting."
        )
    kind = "a list of non-empty strings" if key in LIST_SETTINGS else "a non-empty string"
    return f"{key} ({ORIGIN}) must be {kind}, not {value!r}. Fix the setting."


@pytest.mark.parametrize("toml", list(WRONG_TYPES))
@pytest.mark.parametrize("key", ["models", *STRING_SETTINGS, *LIST_SETTINGS])
def test_every_setting_of_the_wrong_type_names_itself_the_type_and_the_source(
    sqlite_project: Project, key: str, toml: str
) -> None:
    pyproject = sqlite_project.root / "pyproject.toml"
    text = pyproject.read_text()
    if key == "models":
        text = text.replace('models = "shop.models:Base"', f"models = {toml}")
    else:
        text += f"{key} = {toml}\n"
    pyproject.write_text(text)

    result = sqlite_project.run("showmigrations")

    assert result.exit_code == 3, result.output
    assert result.stderr == f"Error: {expected_type_error(key, WRONG_TYPES[toml])}\n"
