"""Time ``manage``, plain Alembic and Django side by side, as whole processes, on generated
projects.

For each size ``TxM`` (T tables, M migrations) the projects are generated with
``bench/generate.py`` into ``bench/.work/TxM/``, every command runs once as a warm-up (which also
checks its exit code and output), then ``--runs`` timed runs alternate between the tools. Without
Django installed (``pip install -e ".[bench]"``), its column is left out.
Wall time comes from ``time.perf_counter`` around each process, peak RSS from ``os.wait4``
(the child's own ``ru_maxrss``). Anything a command needs first (a fresh or a migrated database)
is prepared outside the timing.

Usage::

    .venv/bin/python bench/run.py                          # 20x20,100x100, SQLite
    .venv/bin/python bench/run.py --sizes 20x20,100x100,300x300 --postgresql --write-docs
    .venv/bin/python bench/run.py --postgresql --only pg_test_database,pg_test_database_no_template
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangogen  # the sibling modules
import generate
import servers

from manage.core.testdb import TEMPLATE_MARK

REPO = generate.REPO
WORK = REPO / "bench" / ".work"
DOCS = REPO / "docs" / "benchmarks.md"
BIN = generate.VENV_BIN
PYTHON, MANAGE, ALEMBIC = str(BIN / "python"), str(BIN / "manage"), str(BIN / "alembic")
PYTEST = str(BIN / "pytest")
DJANGO_ADMIN = str(BIN / "django-admin")
DEFAULT_SIZES = "20x20,100x100"
TEST_DATABASES = f"benchtests_{secrets.token_hex(3)}"
"""This run's name for the project database of the pytest rows (a size is appended; it need not
exist): the plugin names its templates after it, and the run drops them at the end."""


# -- measuring one process -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One process: its arguments, where it runs, and what a correct run looks like."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] | None = None
    expect_code: int = 0
    expect_text: str | None = None


class BenchError(Exception):
    """A command did not do what it should; its case is reported as failed."""


# Peak RSS needs care: Linux keeps a process's ru_maxrss across exec, and a child forked from
# this script (60 MiB once SQLAlchemy and Alembic are imported) would report at least that. So the
# commands are forked by this tiny helper instead (python -S, a few MiB), which times each one and
# reads its own ru_maxrss with wait4.
SPAWNER = """
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    fd = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(req["cwd"])
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execve(req["argv"][0], req["argv"], req["env"])
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"wall": wall, "code": code, "maxrss": usage.ru_maxrss}), flush=True)
"""


class Runner:
    """Runs commands through the spawner; returns wall seconds and peak RSS (KiB) of each."""

    def __init__(self, base_env: dict[str, str], scratch: Path) -> None:
        self.base_env = base_env
        self.output = scratch / "output.txt"
        self.spawner = subprocess.Popen(
            [PYTHON, "-S", "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def close(self) -> None:
        assert self.spawner.stdin is not None
        self.spawner.stdin.close()
        self.spawner.wait()

    def run(self, step: Step) -> tuple[float, int]:
        assert self.spawner.stdin is not None and self.spawner.stdout is not None
        request = {
            "argv": step.argv,
            "cwd": str(step.cwd),
            "env": dict(self.base_env, **(step.env or {})),
            "out": str(self.output),
        }
        self.spawner.stdin.write(json.dumps(request) + "\n")
        self.spawner.stdin.flush()
        reply = json.loads(self.spawner.stdout.readline())
        output = self.output.read_text(errors="replace")
        if reply["code"] != step.expect_code or (
            step.expect_text is not None and step.expect_text not in output
        ):
            wanted = f"exit {step.expect_code}" + (
                f" and {step.expect_text!r}" if step.expect_text else ""
            )
            command = " ".join(Path(a).name if a.startswith("/") else a for a in step.argv)
            raise BenchError(
                f"{command} (in {step.cwd}) exited {reply['code']}, expected {wanted}:\n"
                f"{output[-2000:]}"
            )
        return float(reply["wall"]), int(reply["maxrss"])  # Linux: KiB


@dataclass
class Result:
    """The timed runs of one command (or recipe of several processes) on one size."""

    size: str
    key: str
    tool: str  # "manage", "alembic", "django" or "floor"
    label: str
    walls: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024 if self.rss_kib else float("nan")

    def cell(self) -> str:
        if self.error:
            return "failed"
        return f"{self.median:.3f} ({min(self.walls):.3f}-{max(self.walls):.3f})"


# -- the cases -------------------------------------------------------------------------------------


Prepare = Callable[[], AbstractContextManager[str | None]]
"""Untimed preparation around one run; yields the database URL to use (None: the project's)."""


@dataclass
class Case:
    key: str
    tool: str
    label: str
    steps: Callable[[str | None], list[Step]]
    prepare: Prepare = nullcontext


def sqlite_fresh(project: Path) -> Prepare:
    @contextmanager
    def prepare() -> Iterator[str | None]:
        (project / "db.sqlite3").unlink(missing_ok=True)
        yield None

    return prepare


def sqlite_migrated(project: Path, migrate: Step, runner: Runner) -> Prepare:
    @contextmanager
    def prepare() -> Iterator[str | None]:
        if not (project / "db.sqlite3").exists():
            runner.run(migrate)
        yield None

    return prepare


def given_url(url: str) -> Prepare:
    """Nothing to prepare; the run is given ``url``."""

    @contextmanager
    def prepare() -> Iterator[str | None]:
        yield url

    return prepare


def postgresql_fresh(server_url: str, then: Prepare = nullcontext) -> Prepare:
    @contextmanager
    def prepare() -> Iterator[str | None]:
        with servers.server_database(server_url) as url, then():
            yield url

    return prepare


def plugin_template(
    server_url: str, database: str, make: Callable[[str | None], list[Step]], runner: Runner
) -> Prepare:
    """The URL of ``database`` on the server, after an untimed run of ``make``'s steps when the
    server holds no template of the pytest plugin for it yet (a session then clones it)."""
    url = servers.named(server_url, database)

    @contextmanager
    def prepare() -> Iterator[str | None]:
        if not servers.databases(server_url, f"{database}{TEMPLATE_MARK}"):
            for step in make(url):
                runner.run(step)
        yield url

    return prepare


def both(first: Prepare, then: Prepare) -> Prepare:
    """``first``'s preparation, then ``then``'s; the URL of ``first``."""

    @contextmanager
    def prepare() -> Iterator[str | None]:
        with first() as url, then():
            yield url

    return prepare


def forget(runner: Runner, *, everything: bool) -> Prepare:
    """Empty manage's caches before the run (``$XDG_CACHE_HOME/sqlalchemy-manage``, which the
    runner points into bench/.work): only the remembered check answers, or everything except the
    compiled migrations (the replayed histories too), for a check from scratch."""

    @contextmanager
    def prepare() -> Iterator[str | None]:
        # Moved aside and put back after the run, so that a cold row leaves the next warm row
        # its caches (rows alternate within a round).
        cache = Path(runner.base_env["XDG_CACHE_HOME"]) / "sqlalchemy-manage"
        aside = Path(tempfile.mkdtemp(prefix="forgotten-", dir=cache.parent))
        moved = []
        for entry in cache.iterdir() if cache.is_dir() else ():
            if entry.name == "answers" or (everything and entry.name != "pycache"):
                entry.rename(aside / entry.name)
                moved.append(entry.name)
        try:
            yield None
        finally:
            for name in moved:
                shutil.rmtree(cache / name, ignore_errors=True)
                (aside / name).rename(cache / name)
            shutil.rmtree(aside, ignore_errors=True)

    return prepare


EDIT_MARK = "    id: Mapped[int] = mapped_column(primary_key=True)\n"
EDIT = "    bench_note: Mapped[str | None] = mapped_column(sa.String(40))\n"


def edited_copy(project: Path, to: Path) -> Path:
    """``project`` with a column added to its first model: a change the check must report."""
    shutil.rmtree(to, ignore_errors=True)
    shutil.copytree(project, to, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))
    if (to / "manage.py").exists():
        djangogen.add_edit(to)
        return to
    models = to / "benchapp" / "models.py"
    text = models.read_text()
    assert EDIT_MARK in text
    models.write_text(text.replace(EDIT_MARK, EDIT_MARK + EDIT, 1))
    return to


def discard_new_revisions(versions: Path, then: Prepare) -> Prepare:
    """After the run, delete the revision files it wrote (``alembic revision --autogenerate``
    writes one even when nothing changed)."""

    @contextmanager
    def prepare() -> Iterator[str | None]:
        before = set(versions.glob("*.py"))
        with then() as url:
            try:
                yield url
            finally:
                for path in set(versions.glob("*.py")) - before:
                    path.unlink()

    return prepare


def cases_for_size(
    size: str, out: Path, runner: Runner, postgresql_url: str | None, *, django: bool
) -> list[Case]:
    m, a = out / "manage", out / "alembic"
    m_edited, a_edited = (
        edited_copy(m, out / "manage_edited"),
        edited_copy(a, out / "alembic_edited"),
    )
    migrate_m = Step([MANAGE, "migrate"], m, expect_text="OK")
    upgrade_a = Step([ALEMBIC, "upgrade", "head"], a)

    def manage_steps(*args: str, text: str | None = None) -> Callable[[str | None], list[Step]]:
        def steps(url: str | None) -> list[Step]:
            env = {"DATABASE_URL": url} if url else None
            return [Step([MANAGE, *args], m, env, expect_text=text)]

        return steps

    def alembic_steps(
        *commands: tuple[list[str], str | None],
    ) -> Callable[[str | None], list[Step]]:
        def steps(url: str | None) -> list[Step]:
            x = ["-x", f"url={url}"] if url else []
            return [Step([ALEMBIC, *x, *args], a, expect_text=text) for args, text in commands]

        return steps

    def pytest_steps(*args: str) -> Callable[[str | None], list[Step]]:
        def steps(url: str | None) -> list[Step]:
            env = {"DATABASE_URL": url} if url else None
            return [Step([PYTEST, "-q", *args], m, env, expect_text="1 passed")]

        return steps

    no_changes = "No new upgrade operations detected"
    cold = forget(runner, everything=True)
    cases = [
        Case("floor_models", "floor", "python -c 'import benchapp.models'",
             lambda _url: [Step([PYTHON, "-c", "import benchapp.models"], m)]),
        Case("floor_pytest", "floor", "pytest of one test asking for no fixture",
             pytest_steps("tests/test_database.py::test_nothing")),
        Case("check", "manage", "manage makemigrations --check (no caches)",
             manage_steps("makemigrations", "--check", text="No changes detected"), cold),
        Case("check", "alembic", "fresh db.sqlite3; alembic upgrade head; alembic check",
             alembic_steps((["upgrade", "head"], None), (["check"], no_changes)),
             sqlite_fresh(a)),
        Case("check_edited", "manage", "manage makemigrations --check (a model changed)",
             lambda _url: [Step([MANAGE, "makemigrations", "--check"], m_edited, expect_code=1,
                                expect_text="+ Add column bench_note")],
             forget(runner, everything=False)),
        Case("check_edited", "alembic", "alembic check (a model changed, database at head)",
             lambda _url: [Step([ALEMBIC, "check"], a_edited, expect_code=255,
                                expect_text="New upgrade operations detected")],
             sqlite_migrated(a_edited, Step([ALEMBIC, "upgrade", "head"], a_edited), runner)),
        Case("check_replayed", "manage", "manage makemigrations --check (history cached)",
             manage_steps("makemigrations", "--check", text="No changes detected"),
             forget(runner, everything=False)),
        Case("check_replayed", "alembic", "alembic check (database at head)",
             alembic_steps((["check"], no_changes)), sqlite_migrated(a, upgrade_a, runner)),
        Case("check_again", "manage", "manage makemigrations --check (answer remembered)",
             manage_steps("makemigrations", "--check", text="No changes detected")),
        Case("check_again", "alembic", "alembic check (database at head)",
             alembic_steps((["check"], no_changes)), sqlite_migrated(a, upgrade_a, runner)),
        Case("migrate_fresh", "manage", "manage migrate (fresh SQLite file: fast-forward)",
             manage_steps("migrate", text="Fast-forwarded"), sqlite_fresh(m)),
        Case("migrate_fresh_cold", "manage",
             "manage migrate (fresh SQLite file: fast-forward, no replay cache)",
             manage_steps("migrate", text="Fast-forwarded"), both(sqlite_fresh(m), cold)),
        Case("migrate_fresh_cold", "alembic", "alembic upgrade head (fresh SQLite file)",
             alembic_steps((["upgrade", "head"], None)), sqlite_fresh(a)),
        Case("migrate_fresh_steps", "manage", "manage migrate --step-by-step (fresh SQLite file)",
             manage_steps("migrate", "--step-by-step", text="OK"), sqlite_fresh(m)),
        Case("migrate_fresh_steps", "alembic", "alembic upgrade head (fresh SQLite file)",
             alembic_steps((["upgrade", "head"], None)), sqlite_fresh(a)),
        Case("migrate_fresh", "alembic", "alembic upgrade head (fresh SQLite file)",
             alembic_steps((["upgrade", "head"], None)), sqlite_fresh(a)),
        Case("migrate_head", "manage", "manage migrate (already at head)",
             manage_steps("migrate", text="No migrations to apply"),
             sqlite_migrated(m, migrate_m, runner)),
        Case("migrate_head", "alembic", "alembic upgrade head (already at head)",
             alembic_steps((["upgrade", "head"], None)), sqlite_migrated(a, upgrade_a, runner)),
        Case("show", "manage", "manage showmigrations (migrated)",
             manage_steps("showmigrations", text="[X]"), sqlite_migrated(m, migrate_m, runner)),
        Case("show", "alembic", "alembic history --indicate-current (migrated)",
             alembic_steps((["history", "--indicate-current"], "(current)")),
             sqlite_migrated(a, upgrade_a, runner)),
        Case("help_project", "manage", "manage --help (in the project)",
             lambda _url: [Step([MANAGE, "--help"], m, expect_text="makemigrations")]),
        Case("help_project", "alembic", "alembic --help (in the project)",
             lambda _url: [Step([ALEMBIC, "--help"], a, expect_text="upgrade")]),
        Case("makemigrations", "manage", "manage makemigrations (nothing changed)",
             manage_steps("makemigrations", text="No changes detected")),
        Case("makemigrations", "alembic",
             "alembic revision --autogenerate (database at head; the file is deleted untimed)",
             alembic_steps((["revision", "--autogenerate", "-m", "nothing"], "Generating")),
             discard_new_revisions(a / "versions", sqlite_migrated(a, upgrade_a, runner))),
    ]  # fmt: skip
    if django:
        cases += django_cases(out, runner, postgresql_url)
    if postgresql_url:
        fresh = postgresql_fresh(postgresql_url)
        # The plugin makes its test databases (and templates) next to the project's database,
        # which need not exist; one name per size, as the templates' migrations differ.
        tests_database = f"{TEST_DATABASES}_{size}"
        fixture_test = "tests/test_database.py::test_migrated_database"
        fixture = pytest_steps(fixture_test)
        head_ddl = out / "head_postgresql.sql"
        made = subprocess.run(
            [MANAGE, "schema", "--dialect", "postgresql"], cwd=m, capture_output=True, text=True
        )
        head_ddl.write_text(made.stdout if made.returncode == 0 else "")
        cases += [
            Case("floor_pg_ddl", "floor",
                 "psycopg sends the head schema's DDL (`manage schema --dialect postgresql`) "
                 "in one round trip and one transaction to a fresh database",
                 lambda url: [Step([PYTHON, "-c", SEND_DDL, str(head_ddl)], m,
                                   {"DATABASE_URL": str(url)})], fresh),
            Case("pg_check", "manage", "manage makemigrations --check (PostgreSQL, cold)",
                 manage_steps("makemigrations", "--check", text="No changes detected"),
                 postgresql_fresh(postgresql_url, cold)),
            Case("pg_check", "alembic", "fresh database; alembic upgrade head; alembic check",
                 alembic_steps((["upgrade", "head"], None), (["check"], no_changes)), fresh),
            Case("pg_migrate_fresh", "manage",
                 "manage migrate (fresh PostgreSQL database: fast-forward)",
                 manage_steps("migrate", text="Fast-forwarded"), fresh),
            Case("pg_migrate_fresh_cold", "manage",
                 "manage migrate (fresh PostgreSQL database: fast-forward, no replay cache)",
                 manage_steps("migrate", text="Fast-forwarded"),
                 postgresql_fresh(postgresql_url, cold)),
            Case("pg_migrate_fresh_cold", "alembic",
                 "alembic upgrade head (fresh PostgreSQL database)",
                 alembic_steps((["upgrade", "head"], None)), fresh),
            Case("pg_migrate_fresh_steps", "manage",
                 "manage migrate --step-by-step (fresh PostgreSQL database)",
                 manage_steps("migrate", "--step-by-step", text="OK"), fresh),
            Case("pg_migrate_fresh_steps", "alembic",
                 "alembic upgrade head (fresh PostgreSQL database)",
                 alembic_steps((["upgrade", "head"], None)), fresh),
            Case("pg_migrate_fresh", "alembic", "alembic upgrade head (fresh PostgreSQL database)",
                 alembic_steps((["upgrade", "head"], None)), fresh),
            Case("pg_test_database", "manage",
                 "pytest, one test asking for migrated_database (the plugin's template reused)",
                 fixture, plugin_template(postgresql_url, tests_database, fixture, runner)),
            Case("pg_test_database", "alembic", "alembic upgrade head (fresh PostgreSQL database)",
                 alembic_steps((["upgrade", "head"], None)), fresh),
            Case("pg_test_database_no_template", "manage",
                 "pytest --manage-no-template, one test asking for migrated_database",
                 pytest_steps(fixture_test, "--manage-no-template"),
                 given_url(servers.named(postgresql_url, tests_database))),
            Case("pg_test_database_no_template", "alembic",
                 "alembic upgrade head (fresh PostgreSQL database)",
                 alembic_steps((["upgrade", "head"], None)), fresh),
        ]  # fmt: skip
    return cases


def django_cases(out: Path, runner: Runner, postgresql_url: str | None) -> list[Case]:
    """Django's commands on the Django project (``python manage.py ...``)."""
    d, d_edited = out / "django", edited_copy(out / "django", out / "django_edited")

    def steps(*args: str, text: str | None = None, code: int = 0) -> Callable[..., list[Step]]:
        def make(url: str | None) -> list[Step]:
            env = {"DATABASE_URL": url} if url else None
            return [Step([PYTHON, "manage.py", *args], d, env, code, text)]

        return make

    migrate_d = Step([PYTHON, "manage.py", "migrate"], d, expect_text="OK")
    migrated = sqlite_migrated(d, migrate_d, runner)
    check = ("makemigrations", "--check", "--dry-run")
    cases = [
        Case("floor_django", "floor", "python -c 'import django; django.setup()'",
             lambda _url: [Step([PYTHON, "-c", "import django; django.setup()"], d,
                                {"DJANGO_SETTINGS_MODULE": djangogen.SETTINGS_MODULE})]),
        Case("help_project", "django", "python manage.py help",
             steps("help", text="migrate")),
        Case("check", "django", "python manage.py makemigrations --check --dry-run",
             steps(*check, text="No changes detected"), migrated),
        Case("check_edited", "django",
             "python manage.py makemigrations --check --dry-run (a model changed)",
             lambda _url: [Step([PYTHON, "manage.py", *check], d_edited, expect_code=1,
                                expect_text="Add field bench_note")],
             sqlite_migrated(d_edited, Step([PYTHON, "manage.py", "migrate"], d_edited), runner)),
        Case("makemigrations", "django", "python manage.py makemigrations (nothing changed)",
             steps("makemigrations", text="No changes detected"), migrated),
        Case("show", "django", "python manage.py showmigrations (migrated)",
             steps("showmigrations", text="[X]"), migrated),
        Case("migrate_fresh", "django", "python manage.py migrate (fresh SQLite file)",
             steps("migrate", text="OK"), sqlite_fresh(d)),
        Case("migrate_head", "django", "python manage.py migrate (already at head)",
             steps("migrate", text="No migrations to apply"), migrated),
    ]  # fmt: skip
    if postgresql_url:
        cases += [
            Case("pg_check", "django",
                 "python manage.py makemigrations --check --dry-run (fresh PostgreSQL database)",
                 steps(*check, text="No changes detected"), postgresql_fresh(postgresql_url)),
            Case("pg_migrate_fresh", "django",
                 "python manage.py migrate (fresh PostgreSQL database)",
                 steps("migrate", text="OK"), postgresql_fresh(postgresql_url)),
        ]  # fmt: skip
    return cases


def global_cases(neutral: Path, *, django: bool) -> list[Case]:
    """Size-independent commands, run once per benchmark."""
    cases = [
        Case("floor_pass", "floor", "python -c pass",
             lambda _url: [Step([PYTHON, "-c", "pass"], neutral)]),
        Case("floor_sqlalchemy", "floor", "python -c 'import sqlalchemy'",
             lambda _url: [Step([PYTHON, "-c", "import sqlalchemy"], neutral)]),
        Case("help", "manage", "manage --help (outside any project)",
             lambda _url: [Step([MANAGE, "--help"], neutral, expect_text="makemigrations")]),
        Case("help", "alembic", "alembic --help (outside any project)",
             lambda _url: [Step([ALEMBIC, "--help"], neutral, expect_text="upgrade")]),
    ]  # fmt: skip
    if django:
        cases.append(
            Case("help", "django", "django-admin help (outside any project)",
                 lambda _url: [Step([DJANGO_ADMIN, "help"], neutral, expect_text="migrate")])
        )  # fmt: skip
    return cases


def measure(cases: list[Case], size: str, runs: int, runner: Runner) -> list[Result]:
    """Warm up each case once, then time ``runs`` rounds, alternating the cases in each round."""
    results = [Result(size, c.key, c.tool, c.label) for c in cases]

    def once(case: Case, result: Result, timed: bool) -> None:
        if result.error:
            return
        try:
            with case.prepare() as url:
                measured = [runner.run(step) for step in case.steps(url)]
        except BenchError as exc:
            result.error = str(exc)
            print(f"  FAILED {case.label}: {exc}", file=sys.stderr)
            return
        if timed:
            result.walls.append(sum(wall for wall, _ in measured))
            result.rss_kib.append(max(rss for _, rss in measured))

    for case, result in zip(cases, results, strict=True):
        once(case, result, timed=False)
    for round_ in range(runs):
        print(f"  {size}: round {round_ + 1}/{runs}", file=sys.stderr)
        for case, result in zip(cases, results, strict=True):
            once(case, result, timed=True)
    return results


# -- reporting -------------------------------------------------------------------------------------


def _first_line(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def _how_installed() -> str:
    """How the timed ``manage`` is installed: a user's ``pip install`` copies it into
    site-packages; an editable install adds an import hook that every import consults."""
    done = subprocess.run(
        [PYTHON, "-c", "import manage; print(manage.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",  # not the repository, whose manage/ would shadow the installed one
    )
    path = done.stdout.strip()
    return " (editable install)" if "site-packages" not in path else " (regular install)"


def machine_info(postgresql_url: str | None) -> dict[str, str]:
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    memory_kib = _first_line("/proc/meminfo", "MemTotal").split()[0]
    info = {
        "Date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "nproc": nproc or str(os.cpu_count()),
        "CPU": _first_line("/proc/cpuinfo", "model name"),
        "Memory": f"{int(memory_kib) / 1024 / 1024:.1f} GiB" if memory_kib.isdigit() else "?",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLAlchemy": version("SQLAlchemy"),
        "Alembic": version("alembic"),
        "sqlalchemy-manage": version("sqlalchemy-manage") + _how_installed(),
        "Django": version("django") if djangogen.installed() else "not installed",
        "Commit": (_git("rev-parse", "--short", "HEAD") or "?")
        + (" + uncommitted changes" if _git("status", "--porcelain", "--", "manage") else ""),
    }
    if postgresql_url:
        import sqlalchemy as sa

        engine = sa.create_engine(postgresql_url, poolclass=sa.NullPool)
        with engine.connect() as conn:
            info["PostgreSQL"] = str(conn.execute(sa.text("SHOW server_version")).scalar())
        engine.dispose()
    return info


ROWS = [  # key, the row's label, a short name for the growth table
    ("help", "`--help`, outside any project (Django: `django-admin help`)", "help, outside"),
    (
        "help_project",
        "help inside the project: `manage --help` / `alembic --help` / `python manage.py help`",
        "help, in the project",
    ),
    (
        "check",
        "models match the history, from scratch: `makemigrations --check` with no caches / "
        "fresh db + `upgrade head` + `check` / `makemigrations --check --dry-run`",
        "check, from scratch",
    ),
    (
        "check_replayed",
        "models' source touched, schema and history unchanged: `makemigrations --check` with its "
        "caches / `check` at head / (Django: as above)",
        "check, models touched",
    ),
    (
        "check_edited",
        "a model changed (one column added), history unchanged: `makemigrations --check` / "
        "`check` at head / `makemigrations --check --dry-run`",
        "check, a model changed",
    ),
    (
        "check_again",
        "nothing changed since the last check: `makemigrations --check` / `check` / "
        "(Django: as above)",
        "check, nothing changed",
    ),
    (
        "makemigrations",
        "makemigrations, nothing changed: `makemigrations` / `revision --autogenerate` at head / "
        "`makemigrations`",
        "makemigrations, no change",
    ),
    (
        "show",
        "list migrations: `showmigrations` / `history --indicate-current` / `showmigrations`",
        "showmigrations",
    ),
    (
        "migrate_fresh",
        "migrate a fresh SQLite file: `migrate` (fast-forward, replay cached) / `upgrade head` / "
        "`migrate`",
        "migrate, fresh SQLite",
    ),
    (
        "migrate_fresh_cold",
        "migrate a fresh SQLite file: `migrate` (fast-forward, no replay cache) / `upgrade head`",
        "migrate, fresh SQLite, cold",
    ),
    (
        "migrate_fresh_steps",
        "migrate a fresh SQLite file: `migrate --step-by-step` / `upgrade head`",
        "migrate --step-by-step, fresh SQLite",
    ),
    (
        "migrate_head",
        "migrate, already at head: `migrate` / `upgrade head` / `migrate`",
        "migrate, at head",
    ),
    (
        "pg_check",
        "PostgreSQL, from scratch: `makemigrations --check` / fresh db + `upgrade head` + `check` "
        "/ `makemigrations --check --dry-run`",
        "check, PostgreSQL",
    ),
    (
        "pg_migrate_fresh",
        "PostgreSQL: migrate a fresh database (manage: fast-forward, replay cached)",
        "migrate, fresh PostgreSQL",
    ),
    (
        "pg_migrate_fresh_cold",
        "PostgreSQL: migrate a fresh database (manage: fast-forward, no replay cache)",
        "migrate, fresh PostgreSQL, cold",
    ),
    (
        "pg_migrate_fresh_steps",
        "PostgreSQL: migrate a fresh database (manage: `--step-by-step`)",
        "migrate --step-by-step, fresh PostgreSQL",
    ),
    (
        "pg_test_database",
        "PostgreSQL: a test session's database at head: `pytest` of one test asking for "
        "`migrated_database` (the plugin's template reused) / `upgrade head` on a fresh database",
        "pytest's migrated_database, template",
    ),
    (
        "pg_test_database_no_template",
        "PostgreSQL: the same `pytest` run with `--manage-no-template` (migrated: fast-forward, "
        "replay cached) / `upgrade head` on a fresh database",
        "pytest's migrated_database, no template",
    ),
]
SEND_DDL = (
    "import os, sys, psycopg\n"
    "url = os.environ['DATABASE_URL'].replace('+psycopg', '', 1)\n"
    "with psycopg.connect(url) as connection:\n"
    "    connection.execute(open(sys.argv[1]).read())\n"
)
"""The PostgreSQL floor of a fresh database at head: its DDL, sent whole in one transaction."""
FLOORS = [
    ("floor_pass", "`python -c pass`", ""),
    ("floor_sqlalchemy", "`python -c 'import sqlalchemy'`", ""),
    ("floor_models", "`python -c 'import benchapp.models'` (in the project)", "import the models"),
    ("floor_pytest", "`pytest` of one test asking for no fixture (in the project)", "pytest"),
    (
        "floor_pg_ddl",
        "PostgreSQL: psycopg sends the head schema's DDL (`manage schema --dialect postgresql`) "
        "in one round trip and one transaction to a fresh database",
        "the head schema's DDL",
    ),
    (
        "floor_django",
        "`python -c 'import django; django.setup()'` (in the Django project)",
        "Django's setup",
    ),
]
# Django has no cache: its one `makemigrations --check --dry-run` stands for these rows too.
DJANGO_SAME_AS = {"check_replayed": "check", "check_again": "check"}
TOOLS = ("manage", "alembic", "django")


def _ratio(a: Result | None, b: Result | None) -> str:
    if not a or not b or a.error or b.error or not a.walls or not b.walls:
        return "-"
    return f"{a.median / b.median:.2f}x"


def _mib(r: Result | None) -> str:
    return "-" if not r or r.error or not r.rss_kib else f"{r.peak_mib:.0f}"


def _result(
    by: dict[tuple[str, str, str], Result], size: str, key: str, tool: str
) -> Result | None:
    """The result shown in a row: help outside a project is measured once for all sizes, and
    Django's check stands for the check rows it has no cache for."""
    if key == "help":
        size = "all"
    if tool == "django":
        key = DJANGO_SAME_AS.get(key, key)
    return by.get((size, key, tool))


def render_markdown(
    results: list[Result],
    sizes: list[str],
    info: dict[str, str],
    *,
    runs: int,
    argv: list[str],
    smoke: bool,
    generation: dict[str, float],
    load: tuple[tuple[float, ...], tuple[float, ...]],
    django: bool,
) -> str:
    by = {(r.size, r.key, r.tool): r for r in results}
    tools = TOOLS if django else TOOLS[:2]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by bench/run.py --write-docs; edit that, not this. -->",
        "",
    ]
    if smoke:
        lines += [
            "> **Smoke run, not a baseline.** These numbers come from one short run on a shared "
            "2-core machine while other test suites were running; they prove that the tooling "
            "works end to end. Rerun `bench/run.py` on an idle machine for numbers to compare.",
            "",
        ]
    lines += [
        "`manage`, plain Alembic and Django, timed as whole processes on the same generated "
        "projects (`bench/generate.py`: a seeded mix of tables, columns, foreign keys, indexes "
        "and unique constraints; the history creates tables, then adds tables and columns and "
        "alters nullability and types). The `manage` and Alembic projects hold the same "
        "migration files; the Alembic one has the standard `alembic.ini` and `env.py`. The "
        "Django project has the same models and one Django migration per migration "
        "(`CreateModel`, `AddField`, `AlterField`), and `generate.py --verify` checks that it "
        "builds the same schema.",
        "",
    ]
    if not django:
        lines += [
            '> Django is not installed (`pip install -e ".[bench]"`), so its column is left out.',
            "",
        ]
    lines += [
        f"Command: `{' '.join(['bench/run.py', *argv])}`. Each command ran once as a warm-up "
        f"(which also checks its exit code and output), then {runs} timed runs, the tools "
        "alternating. Times are wall seconds, median (min-max); RSS is the peak resident set "
        "of the process (the largest one, for a recipe of several), in MiB. Preparing a fresh or "
        "a migrated database, and deleting the file `alembic revision` writes, is not timed.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in info.items()),
        f"| Load average (1, 5, 15 min), start → end | {' '.join(f'{x:.2f}' for x in load[0])}"
        f" → {' '.join(f'{x:.2f}' for x in load[1])} |",
        "",
    ]
    lines += ["## Floors", "", "| command | " + " | ".join(f"{s}: s" for s in sizes) + " |"]
    lines.append("| --- |" + " --- |" * len(sizes))
    for key, label, _ in FLOORS:
        cells = []
        for size in sizes:
            r = by.get((size, key, "floor")) or by.get(("all", key, "floor"))
            cells.append(r.cell() + f", {_mib(r)} MiB" if r else "-")
        if any(cell != "-" for cell in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    header = "| what |" + "".join(f" {tool} s | MiB |" for tool in tools)
    ratios = ["manage/alembic", *(["manage/django"] if django else []), "manage/floor"]
    header += "".join(f" {r} |" for r in ratios)
    for size in sizes:
        tables, migrations = size.split("x")
        floor = by.get((size, "floor_models", "floor"))
        lines += [
            f"## {size}: {tables} tables, {migrations} migrations",
            "",
            f"Generated in {generation[size]:.1f}s. manage/floor divides by "
            "`python -c 'import benchapp.models'` at this size."
            + (
                " † Django has no cache: its check rows repeat its one "
                "`makemigrations --check --dry-run` measurement."
                if django
                else ""
            ),
            "",
            header,
            "|" + " --- |" * (1 + 2 * len(tools) + len(ratios)),
        ]
        for key, label, _ in ROWS:
            row = {tool: _result(by, size, key, tool) for tool in tools}
            if not row["manage"] and not row["alembic"]:
                continue
            cells = [label]
            for tool in tools:
                r = row[tool]
                mark = " †" if tool == "django" and key in DJANGO_SAME_AS and r else ""
                cells += [(r.cell() if r else "-") + mark, _mib(r)]
            cells.append(_ratio(row["manage"], row["alembic"]))
            if django:
                cells.append(_ratio(row["manage"], row["django"]))
            cells.append(_ratio(row["manage"], floor))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if len(sizes) > 1:
        steps = list(itertools.pairwise(sizes))
        if len(sizes) > 2:
            steps.append((sizes[0], sizes[-1]))

        def linear(a: str, b: str) -> str:
            return f"{int(b.split('x')[1]) / int(a.split('x')[1]):.1f}x"

        lines += [
            "## Growth with size",
            "",
            "Median seconds per size, and the ratio of the medians from one size to the next "
            "(in the heading, the ratio of the migration counts: what linear growth would be).",
            "",
            "| what | tool | "
            + " | ".join(sizes)
            + " | "
            + " | ".join(f"{a} → {b} (linear {linear(a, b)})" for a, b in steps)
            + " |",
            "| --- | --- |" + " --- |" * (len(sizes) + len(steps)),
        ]
        for key, _, label in [*ROWS[1:], *FLOORS[2:]]:
            for tool in (*tools, "floor"):
                if tool == "django" and key in DJANGO_SAME_AS:
                    continue
                results_by_size = {s: by.get((s, key, tool)) for s in sizes}
                if not any(results_by_size.values()):
                    continue
                cells = [
                    f"{r.median:.3f}" if r and not r.error else "-"
                    for r in results_by_size.values()
                ]
                growth = [_ratio(results_by_size[b], results_by_size[a]) for a, b in steps]
                lines.append(f"| {label} | {tool} | " + " | ".join(cells + growth) + " |")
        lines.append("")
    failures = [r for r in results if r.error]
    if failures:
        lines += ["## Failures", ""]
        for r in failures:
            first_line = r.error.splitlines()[0] if r.error else ""
            lines.append(f"- {r.size} {r.label}: {first_line}")
        lines.append("")
    lines += [
        "## Reproduce",
        "",
        "```sh",
        "# a regular install, as users get it (an editable one adds an import hook)",
        'python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install ".[dev,bench]"',
        "/tmp/benchvenv/bin/python bench/run.py --write-docs            # 20x20,100x100",
        "/tmp/benchvenv/bin/python bench/run.py --sizes 20x20,100x100,300x300 --postgresql \\",
        "    --write-docs",
        "# some rows again; their tables replace the section 'Selected rows', the rest is kept",
        "/tmp/benchvenv/bin/python bench/run.py --sizes 100x100,300x300 --postgresql \\",
        "    --only floor_pytest,pg_migrate_fresh,pg_test_database,pg_test_database_no_template \\",
        "    --write-docs",
        ".venv/bin/python bench/generate.py --tables 100 --migrations 100 --out /tmp/b --verify",
        "```",
        "",
        "See `bench/README.md` for what each command measures.",
        "",
    ]
    return "\n".join(lines)


SECTION = "Selected rows"
_BEGIN, _END = "<!-- bench/run.py --only: begin -->", "<!-- bench/run.py --only: end -->"


def _section(document: str) -> str:
    """The part of ``document`` a ``--only`` run wrote (between its markers), or ""."""
    start, end = document.find(_BEGIN), document.find(_END)
    return document[start : end + len(_END)] if 0 <= start < end else ""


def with_section(document: str, run: str) -> str:
    """``document`` with the ``--only`` section replaced by ``run``'s tables (a whole rendered
    run, or an old section kept as it is), placed before "## Reproduce"."""
    if run and not run.startswith(_BEGIN):
        smoke = next((line for line in run.splitlines() if line.startswith("> **Smoke")), "")
        body = run[run.find("Command: ") :].split("## Reproduce", 1)[0].strip()
        body = body.replace("\n## ", "\n### ")
        run = f"{_BEGIN}\n## {SECTION}\n\n{smoke + chr(10) * 2 if smoke else ''}{body}\n\n{_END}"
    old = _section(document)
    if old:
        return document.replace(old, run)
    if not run:
        return document
    at = document.find("## Reproduce")
    return document[:at] + run + "\n\n" + document[at:] if at >= 0 else document + "\n" + run


# -- main ------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[str]:
    sizes = []
    for part in text.split(","):
        tables, sep, migrations = part.strip().partition("x")
        if not sep or not tables.isdigit() or not migrations.isdigit():
            raise argparse.ArgumentTypeError(f"{part!r} is not a size like 20x20")
        sizes.append(f"{int(tables)}x{int(migrations)}")
    return sizes


DIVISOR = "floor_models"
"""The floor that manage/floor divides by: timed at every size, whatever ``--only`` names."""


def row_keys(text: str) -> set[str]:
    """``--only``'s comma-separated row keys, each one a row or floor of the report."""
    keys = {key.strip() for key in text.split(",") if key.strip()}
    known = {key for key, _, _ in [*ROWS, *FLOORS]}
    if not keys or keys - known:
        raise argparse.ArgumentTypeError(
            f"unknown row {', '.join(sorted(keys - known)) or '(none given)'}; "
            f"the rows are {', '.join(sorted(known))}"
        )
    return keys


def _chosen(cases: list[Case], only: set[str] | None) -> list[Case]:
    """The rows ``only`` names (every row without it), and the floor they divide by."""
    return [c for c in cases if only is None or c.key in only or c.key == DIVISOR]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULT_SIZES),
        help=f"TABLESxMIGRATIONS, comma-separated (default {DEFAULT_SIZES})",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgresql",
        nargs="?",
        const=generate.DEFAULT_POSTGRESQL_URL,
        metavar="SERVER_URL",
        help="also time a fresh PostgreSQL database (a uniquely named database "
        f"per run; default server {generate.DEFAULT_POSTGRESQL_URL})",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS.relative_to(REPO)}")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="label the results as a smoke run (a loaded or shared machine)",
    )
    parser.add_argument("--work", type=Path, default=WORK, help=f"default {WORK}")
    parser.add_argument(
        "--only",
        type=row_keys,
        default=None,
        metavar="KEYS",
        help="time only these rows, comma-separated (e.g. check_edited,pg_migrate_fresh; "
        f"{DIVISOR}, which manage/floor divides by, is always timed), e.g. to re-measure a few "
        f"rows; with --write-docs their tables go into the section '{SECTION}' of "
        f"{DOCS.relative_to(REPO)}, the rest of it is kept",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    args.work.mkdir(parents=True, exist_ok=True)
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "MANAGE_SETTINGS_MODULE",
            "PYTHONPATH",
            "DJANGO_SETTINGS_MODULE",
            "PYTEST_ADDOPTS",
            "PYTEST_PLUGINS",
            "PYTHONDONTWRITEBYTECODE",  # users' Python writes compiled files: both tools use them
        )
    }
    base_env["XDG_CACHE_HOME"] = str(args.work / "cache")  # manage's compiled migrations
    django = djangogen.installed()
    if not django:
        print(
            'Django is not installed (pip install -e ".[bench]"): no Django column.',
            file=sys.stderr,
        )
    load_start = os.getloadavg()
    info = machine_info(args.postgresql)
    results: list[Result] = []
    generation: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        neutral = Path(scratch) / "neutral"  # outside any project, for --help and the floors
        neutral.mkdir()
        runner = Runner(base_env, Path(scratch))
        try:
            globals_ = _chosen(global_cases(neutral, django=django), args.only)
            if globals_:
                print("global: floors and --help", file=sys.stderr)
                results += measure(globals_, "all", args.runs, runner)
            for size in args.sizes:
                tables, migrations = (int(n) for n in size.split("x"))
                out = args.work / size
                start = time.perf_counter()
                generate.generate(tables, migrations, args.seed, out)
                generation[size] = time.perf_counter() - start
                print(f"{size}: generated in {generation[size]:.1f}s", file=sys.stderr)
                cases = _chosen(
                    cases_for_size(size, out, runner, args.postgresql, django=django), args.only
                )
                results += measure(cases, size, args.runs, runner)
        finally:
            runner.close()
            if args.postgresql:  # the pytest rows' templates
                servers.drop_databases(args.postgresql, TEST_DATABASES)
    markdown = render_markdown(
        results,
        args.sizes,
        info,
        runs=args.runs,
        argv=sys.argv[1:] if argv is None else argv,
        smoke=args.smoke,
        generation=generation,
        load=(load_start, os.getloadavg()),
        django=django,
    )
    print(markdown)
    (args.work / "results.json").write_text(
        json.dumps([r.__dict__ for r in results], indent=1, default=str) + "\n"
    )
    if args.write_docs and args.only:
        DOCS.write_text(with_section(DOCS.read_text(), markdown))
        print(f"Wrote the section '{SECTION}' of {DOCS.relative_to(REPO)}", file=sys.stderr)
    elif args.write_docs:
        DOCS.write_text(with_section(markdown, _section(DOCS.read_text()) if DOCS.exists() else ""))
        print(f"Wrote {DOCS.relative_to(REPO)}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
