"""Random edits to a real SQLite project never make the commit guard's cached answer differ from
the answer of a process with no cache at all (issue 11).

Each step edits the project, runs ``manage makemigrations --check`` with no cache (a fresh
``XDG_CACHE_HOME``), then with the caches kept across steps, and asserts both give the same exit
code and lines. The cold run comes first, so that the edit has settled when the warm run starts
and the warm run may remember its answer: the next step's edit must then be noticed.

``MANAGE_GUARD_STEPS`` sets the steps per test item (default 250; eight items: 2,000 steps).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.cli.test_guard_soundness import BOOK_MIGRATION

STEPS = int(os.environ.get("MANAGE_GUARD_STEPS", "250"))
ITEMS = 8
"""Test items (xdist spreads them): 8 x 250 = 2,000 steps per run."""
COUNTED: list[int] = []

HOOK = """
from app.skiplist import SKIP


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name in SKIP:
        return False
    return not obj.info.get("skip_autogenerate")
"""
DB = """
import os
from pathlib import Path

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass
"""
INIT = """
import importlib
import pkgutil

from app.db import Base

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
"""
TYPES = ["String(20)", "String(40)", "Integer", "Text", "Boolean"]
TABLE_FORMS = [
    '[tool.manage]\nmodels = "app.models:Base"\n{extra}',
    '[tool]\nmanage.models = "app.models:Base"\n{dotted}',
    '[tool]\nmanage = {{ models = "app.models:Base"{inline} }}\n',
]


class Runner:
    """Runs the console script's ``main()`` in a fresh process per call, forked from
    ``tests/cli/forkrun.py`` (which imported SQLAlchemy and Alembic once)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("forkrun.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )

    def __call__(self, cwd: Path, cache: Path, env: dict[str, str]) -> tuple[int, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "MANAGE_SETTINGS_MODULE", "APP_EXTRA")
        }
        full = {**base, "XDG_CACHE_HOME": str(cache), "PYTHONDONTWRITEBYTECODE": "1", **env}
        request = {"cwd": str(cwd), "env": full, "argv": ["makemigrations", "--check"]}
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return int(answer["code"]), str(answer["out"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)
        if self.process.stdout is not None:
            self.process.stdout.close()


RUN: list[Runner] = []


def run(cwd: Path, cache: Path, env: dict[str, str]) -> tuple[int, str]:
    code, output = RUN[0](cwd, cache, env)
    # A proposed name like 0002_auto_20261205_1611.py holds the UTC minute: two runs on either
    # side of a minute differ there and nowhere else, so the minute is not compared.
    return code, re.sub(r"_auto_\d{8}_\d{4}", "_auto_<minute>", output)


class Guard(RuleBasedStateMachine):
    """A project: app/models/ auto-imports its modules; a hook reads Table.info and a list."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(os.environ["GUARD_TMP"]) / f"m{time.monotonic_ns()}"
        self.root = self.tmp / "p"
        self.cache = self.tmp / "cache"
        self.env: dict[str, str] = {}
        self.tables: dict[str, dict[str, str]] = {"book": {"title": "String(100)"}}
        self.info: dict[str, bool] = {}
        self.skip: list[str] = []
        self.form = 0
        self.use_hook = True
        self.steps = 0
        self.cwd = self.root

    @initialize()
    def build(self) -> None:
        files = {
            "app/__init__.py": "",
            "app/db.py": DB,
            "app/models/__init__.py": INIT,
            "app/hooks.py": HOOK,
            "app/extra.txt": "",
            "history_a/0001_initial.py": BOOK_MIGRATION,
            "history_b/0001_initial.py": BOOK_MIGRATION.replace("title", "name"),
            "sub/pyproject.toml": '[tool]\nmanage = { models = "subapp:Base" }\n',
            "sub/subapp.py": DB + "\nclass T(Base):\n    __tablename__ = 't'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n",
        }
        for relative, text in files.items():
            self.write(relative, text)
        (self.root / "migrations").symlink_to("history_a")
        self.write_settings()
        self.write_models()

    def write(self, relative: str, text: str, *, keep_mtime: bool = False) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.stat() if keep_mtime and path.exists() else None
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if before is not None:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    def write_settings(self) -> None:
        hook = 'include_object = "app.hooks:include_object"\n' if self.use_hook else ""
        inline = ', include_object = "app.hooks:include_object"' if self.use_hook else ""
        text = TABLE_FORMS[self.form].format(
            extra=hook, dotted=f"manage.{hook}" if hook else "", inline=inline
        )
        self.write("pyproject.toml", text)

    def write_models(self, keep_mtime: bool = False) -> None:
        for name, columns in self.tables.items():
            info = ', "info": {"skip_autogenerate": True}' if self.info.get(name) else ""
            body = "".join(
                f"    {column}: Mapped[str] = "
                f"mapped_column({type_}, nullable={column != 'title'})\n"
                for column, type_ in columns.items()
            )
            self.write(
                f"app/models/{name}.py",
                "from app.db import *\n\n\n"
                f"class {name.capitalize()}(Base):\n"
                f'    __tablename__ = "{name}"\n'
                f"    __table_args__ = {{{info.lstrip(', ')}}}\n"
                "    id: Mapped[int] = mapped_column(primary_key=True)\n"
                + body
                + (
                    "    if os.environ.get('APP_EXTRA'):\n"
                    "        extra: Mapped[str] = mapped_column(String(5), nullable=True)\n"
                    "    for _n in (Path(__file__).parents[1] / 'extra.txt').read_text().split():\n"
                    "        locals()[_n] = mapped_column(String(5), nullable=True)\n"
                    if name == "book"
                    else ""
                ),
                keep_mtime=keep_mtime,
            )
        for path in (self.root / "app/models").glob("*.py"):
            if path.stem not in self.tables and path.name != "__init__.py":
                path.unlink()
        self.write("app/skiplist.py", f"SKIP = {self.skip!r}\n")

    # -- edits ------------------------------------------------------------------------------

    @rule(name=st.sampled_from(["book", "tag", "shelf"]), column=st.sampled_from(["a", "b"]),
          type_=st.sampled_from(TYPES), keep=st.booleans())  # fmt: skip
    def set_column(self, name: str, column: str, type_: str, keep: bool) -> None:
        self.tables.setdefault(name, {})[column] = type_
        self.write_models(keep_mtime=keep)

    @rule(name=st.sampled_from(["book", "tag", "shelf"]), column=st.sampled_from(["a", "b"]))
    def drop_column(self, name: str, column: str) -> None:
        self.tables.get(name, {}).pop(column, None)
        self.write_models()

    @rule(name=st.sampled_from(["tag", "shelf"]))
    def drop_table(self, name: str) -> None:
        self.tables.pop(name, None)
        self.write_models()

    @rule(name=st.sampled_from(["book", "tag", "shelf"]), keep=st.booleans())
    def flip_info(self, name: str, keep: bool) -> None:
        self.info[name] = not self.info.get(name)
        self.write_models(keep_mtime=keep)

    @rule(name=st.sampled_from(["tag", "shelf"]))
    def flip_skip(self, name: str) -> None:
        self.skip = [n for n in self.skip if n != name] if name in self.skip else [*self.skip, name]
        self.write_models()

    @rule(form=st.integers(0, 2), hook=st.booleans())
    def settings_form(self, form: int, hook: bool) -> None:
        self.form, self.use_hook = form, hook
        self.write_settings()

    @rule(which=st.sampled_from(["history_a", "history_b"]))
    def repoint_migrations(self, which: str) -> None:
        (self.root / "migrations.new").symlink_to(which)
        os.replace(self.root / "migrations.new", self.root / "migrations")

    @rule(keep=st.booleans())
    def edit_migration(self, keep: bool) -> None:
        path = "history_a/0001_initial.py"
        text = (self.root / path).read_text()
        text = text.replace("length=100", "length=101" if "length=100" in text else "length=100")
        if "length=100" not in text and "length=101" not in text:
            text = text.replace("length=101", "length=100")
        self.write(path, text, keep_mtime=keep)

    @rule(present=st.booleans())
    def second_migration(self, present: bool) -> None:
        path = self.root / "history_a/0002_add_tag.py"
        if not present:
            path.unlink(missing_ok=True)
            return
        self.write(
            "history_a/0002_add_tag.py",
            BOOK_MIGRATION.replace('"0001_initial"', '"0002_add_tag"')
            .replace("down_revision = None", 'down_revision = "0001_initial"')
            .replace('"book"', '"tag"')
            .replace('sa.Column("title", sa.String(length=100), nullable=False),\n', ""),
        )

    @rule(value=st.sampled_from(["", "DATABASE_URL=sqlite:///x.sqlite3\n", "APP_EXTRA=1\n"]))
    def dotenv(self, value: str) -> None:
        if value:
            self.write(".env", value)
        else:
            (self.root / ".env").unlink(missing_ok=True)

    @rule(extra=st.booleans(), url=st.booleans())
    def environment(self, extra: bool, url: bool) -> None:
        self.env = {}
        if extra:
            self.env["APP_EXTRA"] = "1"
        if url:
            self.env["DATABASE_URL"] = "sqlite:///y.sqlite3"

    @rule(words=st.sampled_from(["", "c1", "c1 c2"]), keep=st.booleans())
    def data_file(self, words: str, keep: bool) -> None:
        self.write("app/extra.txt", words, keep_mtime=keep)

    @rule(sub=st.booleans())
    def where(self, sub: bool) -> None:
        self.cwd = self.root / "sub" if sub else self.root

    # -- the check --------------------------------------------------------------------------

    @invariant()
    def warm_equals_cold(self) -> None:
        if not (self.root / "pyproject.toml").exists():
            return
        cold = run(self.cwd, self.tmp / f"cold{self.steps}", self.env)
        shutil.rmtree(self.tmp / f"cold{self.steps}", ignore_errors=True)
        warm = run(self.cwd, self.cache, self.env)
        self.steps += 1
        COUNTED.append(cold[0])
        assert cold[0] in (0, 1, 3), cold  # not a crash of the runner
        assert warm == cold, f"step {self.steps}: warm {warm} != cold {cold}"

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.mark.parametrize("seed", range(ITEMS))
def test_the_cached_answer_is_the_fresh_answer(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARD_TMP", str(tmp_path))
    RUN[:] = [Runner()]
    before = len(COUNTED)
    Guard.TestCase.settings = settings(
        max_examples=max(1, STEPS // 25),  # many short runs: more varied than one long one
        stateful_step_count=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        Guard.TestCase().runTest()
    finally:
        RUN.pop().close()
    codes = COUNTED[before:]
    print(f"seed {seed}: {len(codes)} steps, exit codes {sorted(set(codes))}")
    assert len(codes) >= STEPS // 2  # hypothesis may end a run early, rarely
