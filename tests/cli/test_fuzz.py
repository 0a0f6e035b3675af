"""Property-based fuzz: whatever names, targets and settings values a user types, no traceback.

Every run must end in exit 0, 1, 2 or 3 with its message, never an exception escaping the CLI (the
project's CliRunner re-raises anything but SystemExit, which fails the example).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.cli.test_bad_input import MIGRATION
from tests.conftest import Project

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,  # write no .hypothesis folder
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What people type: identifiers, paths, URLs and typos, plus anything at all.
TYPED = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.:-/ @*?[]\\'\"", max_size=30),
    st.text(max_size=20),
)
# Only unreachable ports: a fuzzed URL must never reach a real server.
PREFIXES = [
    "sqlite:///",
    "foo://",
    "postgresql+psycopg://u:p@127.0.0.1:1/",
    "mysql+pymysql://u:p@127.0.0.1:1/",
    "shop.models:",
    "shop.",
]
TABLE = '[tool.manage]\nmodels = "shop.models:Base"\n'


def assert_clean(result: object) -> None:
    exit_code = result.exit_code  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert exit_code in (0, 1, 2, 3), output
    assert "Traceback" not in output
    if exit_code == 3:
        assert output.splitlines()[-1].startswith("Error: "), output


@pytest.fixture
def history(sqlite_project: Project) -> Project:
    for rev, down in (("0001_a", None), ("0002_b", "0001_a")):
        sqlite_project.write(f"migrations/{rev}.py", MIGRATION.format(rev=rev, down=down))
    return sqlite_project


@FUZZ
@given(name=TYPED)
def test_any_migration_name(history: Project, name: str) -> None:
    result = history.run("makemigrations", "--dry-run", "-n", name)

    assert_clean(result)
    assert history.migrations() == ["0001_a.py", "0002_b.py"]


@FUZZ
@given(target=TYPED)
@example(target="²")  # a digit to str.isdigit(), not to int(): once a ValueError
def test_any_migrate_target(history: Project, target: str) -> None:
    assert_clean(history.run("migrate", "--plan", target))
    assert_clean(history.run("migrate", "--sql", target))


@FUZZ
@given(
    key=st.sampled_from(
        ["models", "database_url", "migrations", "version_table", "import", "exclude_tables",
         "include_object", "shadow_database_url", "commands"]
    ),
    value=st.one_of(
        TYPED,
        st.builds(lambda p, s: p + s, st.sampled_from(PREFIXES), TYPED),
        st.lists(TYPED, max_size=3),
        st.integers(),
        st.booleans(),
    ),
)  # fmt: skip
def test_any_settings_value(history: Project, key: str, value: object) -> None:
    pyproject = history.root / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(original.replace(TABLE, TABLE + f"{key} = {json.dumps(value)}\n"))
    try:
        assert_clean(history.run("showmigrations"))
        assert_clean(history.run("migrate", "--plan"))
    finally:
        pyproject.write_text(original)


# Passwords with the characters that break URLs; the host is an unreachable port.
PASSWORD = st.text(alphabet="abcXYZ019@:/%#?&=+ !$'\"\\", min_size=4, max_size=16).filter(
    lambda p: p.strip() == p and len(set(p)) > 2 and "%" not in p[-2:]
)
SCHEME = st.sampled_from(
    ["postgresql+psycopg", "mysql+pymysql", "mariadb+pymysql", "postgresql", "foo", "sqlite", ""]
)


@FUZZ
@given(scheme=SCHEME, password=PASSWORD, encode=st.booleans())
@example(scheme="postgresql+psycopg", password="Tr0ub4dor@3xyzQ", encode=False)
@example(scheme="", password="00 1", encode=False)  # CI found: a space ended the masked part
@example(scheme="postgresql+psycopg", password="@00#", encode=False)  # "#" once hid the second "@"
@example(scheme="postgresql+psycopg", password="@0?=", encode=False)  # and "?"
def test_any_database_url_never_shows_its_password(
    sqlite_project: Project, scheme: str, password: str, encode: bool
) -> None:
    """Issue 12: ambiguous '@', odd schemes, encoded or not: the password never appears."""
    from urllib.parse import quote

    shown = quote(password, safe="") if encode else password
    assume(password not in "127.0.0.1:1/shop")  # e.g. "1:1/": shown as part of the host
    url = f"{scheme}://app:{shown}@127.0.0.1:1/shop"
    for args in (["showmigrations"], ["dbshell"], ["migrate", "--plan"]):
        result = sqlite_project.run("--database-url", url, *args)
        assert_clean(result)
        pieces = {piece for piece in password.split("@") if len(piece) >= 5}  # a part shown
        for secret in {password, shown} | pieces:
            assert secret not in result.output, (url, result.output)


RESERVED_IDS = ["", " ", "head", "heads", "base", "zero", "current"]


@FUZZ
@given(
    rev_id=st.one_of(
        st.sampled_from(RESERVED_IDS),
        TYPED,
        st.integers(),
        st.none(),
        st.builds(
            lambda w, s: w + s,
            st.sampled_from(RESERVED_IDS),
            st.sampled_from(["+1", "-1", "@x", "~"]),
        ),
    )
)
@example(rev_id="base")  # once an AssertionError from inside Alembic
@example(rev_id="")  # once planned an unapply of everything
def test_any_revision_id(history: Project, rev_id: object) -> None:
    """Whatever a migration's ``revision`` is, no traceback; a reserved word is refused,
    naming the file."""
    migration = MIGRATION.format(rev="0003_c", down="0002_b")
    history.write(
        "migrations/0003_c.py", migration.replace('revision = "0003_c"', f"revision = {rev_id!r}")
    )
    try:
        for command in (("showmigrations",), ("migrate", "--plan"), ("migrate",)):
            result = history.run(*command)
            assert_clean(result)
            if isinstance(rev_id, str) and rev_id.strip() in RESERVED_IDS:
                assert result.exit_code == 3
                assert "migrations/0003_c.py has revision = " in result.stderr
    finally:
        (history.root / "migrations/0003_c.py").unlink()
        (history.root / "db.sqlite3").unlink(missing_ok=True)


EXIT_CODES = st.one_of(st.integers(min_value=-(2**31), max_value=2**31), st.none(), TYPED)


@FUZZ
@given(code=EXIT_CODES, where=st.sampled_from(["models", "migration"]))
@example(code=0, where="models")  # a commit hook running makemigrations --check passed
@example(code=0, where="migration")  # migrate printed Applying... and exited 0
def test_any_exit_code_of_project_code_is_an_error(
    history: Project, code: object, where: str
) -> None:
    """sys.exit(anything) in the models or a migration: exit 3, never the code chosen."""
    models = history.root / "shop/models.py"
    original = models.read_text()
    exiting = "import sys\nsys.exit(" + repr(code) + ")\n"
    if where == "models":
        models.write_text(original + exiting)
        commands: tuple[tuple[str, ...], ...] = (("makemigrations", "--check"),)
    else:
        history.write(
            "migrations/0003_c.py",
            MIGRATION.format(rev="0003_c", down="0002_b").replace(
                "def upgrade() -> None:\n",
                "def upgrade() -> None:\n    " + exiting.replace("\n", "; ", 1),
            ),
        )
        commands = (("migrate",),)
    try:
        for command in commands:
            result = history.run(*command)
            assert_clean(result)
            assert result.exit_code == 3, result.output
            assert "sys.exit(" in result.stderr
    finally:
        models.write_text(original)
        (history.root / "migrations/0003_c.py").unlink(missing_ok=True)
        (history.root / "db.sqlite3").unlink(missing_ok=True)


# Values no id attribute may hold: anything but None, a string, or a list/tuple of strings.
NOT_IDS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    st.lists(st.one_of(st.integers(), st.none(), st.booleans()), min_size=1, max_size=3),
    st.builds(lambda ids, bad: [*ids, bad], st.lists(TYPED, max_size=2), st.integers()),
)
GOOD_C = MIGRATION.format(rev="0003_c", down="0002_b").lstrip("\n")


@st.composite
def malformed_migration(draw: st.DrawFn) -> bytes:
    """The source of a 0003_c.py that no command may run: damaged bytes, or an id attribute
    that is missing, of the wrong type, pointing at itself or at nothing."""
    kind = draw(
        st.sampled_from(
            ["null byte", "cut", "not utf-8", "revision", "down_revision", "branch_labels",
             "depends_on", "missing", "self", "nowhere"]
        )
    )  # fmt: skip
    source = GOOD_C.encode()
    if kind == "null byte":
        at = draw(st.integers(0, len(source)))
        return source[:at] + b"\0" + source[at:]
    if kind == "cut":  # ends before downgrade() has a body: never a whole migration
        return source[: draw(st.integers(0, source.index(b"def downgrade() -> None:") + 24))]
    if kind == "not utf-8":  # a Latin-1 byte in a string literal
        return source.replace(
            b'"t_0003_c"', b'"t_0003_c' + bytes([draw(st.integers(0x80, 0xFF))]) + b'"'
        )
    if kind == "missing":
        name = draw(st.sampled_from(["revision", "down_revision"]))
        return re.sub(rf"(?m)^{name} = .*\n".encode(), b"", source, count=1)
    if kind in ("self", "nowhere"):
        name = draw(st.sampled_from(["down_revision", "depends_on"]))
        target = (
            "0003_c"
            if kind == "self"
            else draw(
                TYPED.filter(
                    lambda t: t not in ("0001_a", "0002_b", "0003_c") and t.strip() == t and t
                )
            )
        )
        line = f"{name} = {draw(st.sampled_from([repr(target), repr([target])]))}\n"
    else:
        line = f"{kind} = {draw(NOT_IDS)!r}\n"
    name = line.split(" = ")[0]
    if re.search(rf"(?m)^{name} = ".encode(), source):
        return re.sub(rf"(?m)^{name} = .*\n".encode(), lambda _: line.encode(), source, count=1)
    return source + line.encode()


@FUZZ
@given(source=malformed_migration())
@example(source=GOOD_C.encode().replace(b"def upgrade", b"\0def upgrade"))  # "Migration file ?"
@example(source=GOOD_C.encode().replace(b'revision = "0003_c"', b"revision = 2"))  # a TypeError
@example(source=GOOD_C.encode().replace(b"down_revision = '0002_b'", b"down_revision = '0003_c'"))
def test_any_malformed_migration_file_is_named(history: Project, source: bytes) -> None:
    """Issue 12 point 11: exit 3, one message naming the file, no traceback, on every command
    that loads the history (``check``: exit 1, its [FAIL] line naming the file)."""
    path = history.root / "migrations/0003_c.py"
    path.write_bytes(source)
    try:
        for command in (
            ("showmigrations",),
            ("migrate",),
            ("makemigrations", "--check"),
            ("sqlmigrate", "0001_a"),
        ):
            result = history.run(*command)
            assert_clean(result)
            assert result.exit_code == 3, (command, result.output)
            assert result.stderr.count("\n") == 1, result.stderr
            assert "migrations/0003_c.py" in result.stderr, result.stderr
        result = history.run("check")
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "[FAIL] migration files: " in result.stdout
        assert "migrations/0003_c.py" in result.stdout
    finally:
        path.unlink()
        (history.root / "db.sqlite3").unlink(missing_ok=True)
