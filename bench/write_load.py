"""Schema changes under a steady write load: how long does each migration stop writes? (issue 14)

A benchmark, not a test. For each dialect (PostgreSQL, MariaDB) and each tool (``manage`` and plain
Alembic) it creates a database with a table ``event`` of ``--rows`` rows (1,000,000 by default;
PostgreSQL ``generate_series``, MariaDB's ``seq_1_to_N``), starts a writer in a second process
(short transactions, one single-row INSERT or UPDATE each, paced at ``--rate`` writes a second,
each write's start time and latency recorded), then makes one model change at a time, has the
tool write the migration (``manage makemigrations`` / ``alembic revision --autogenerate``: the
migrations are produced by running the tools, never written here) and applies it (``manage
migrate`` / ``alembic upgrade head``), timing the process. Per change it reports the
migration's wall time and the longest write that overlapped it (the write stall).

The changes, applied in this order to the same table: add an index, add a foreign key, add a
NOT NULL column with a server default, set NOT NULL on a filled column, add a unique constraint,
widen a type (varchar(50) -> varchar(200), a catalog-only change, and int -> bigint, a
rewrite), add a CHECK constraint.

Whatever ``manage makemigrations`` writes is what is measured: when the safe forms of issue 14
(``CREATE INDEX CONCURRENTLY``, ``NOT VALID`` + ``VALIDATE``...) land, re-running this shows
the change.

Usage (servers as for the tests; a dialect without its URL is left out)::

    export MANAGE_TEST_POSTGRESQL_URL=... MANAGE_TEST_MARIADB_URL=...
    .venv/bin/python bench/write_load.py [--rows 1000000] [--dialects postgresql,mariadb]
        [--tools manage,alembic] [--rate 200] [--out bench/.work/write_load.md]

``--rows 100000`` is a quick smoke run.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))
import servers  # noqa: E402  # bench/servers.py

SERVERS = {"postgresql": "MANAGE_TEST_POSTGRESQL_URL", "mariadb": "MANAGE_TEST_MARIADB_URL"}
CUSTOMERS = 1000

# The models before any change: the writer's statements work at every step.
MODELS_HEAD = '''
"""The benchmark's models (step {step}: {label})."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Event(Base):
    __tablename__ = "event"
{table_args}
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column({customer_fk})
    code: Mapped[str | None] = mapped_column(sa.String(50), nullable={code_nullable})
    amount: Mapped[int] = mapped_column({amount_type}, nullable=True{amount_index})
    ref: Mapped[int] = mapped_column(sa.Integer, nullable=True)
    note: Mapped[str | None] = mapped_column({note_type}, nullable=True)
{status}'''

CHANGES = [
    ("add index", {"amount_index": ", index=True"}),
    ("add foreign key", {"customer_fk": 'sa.ForeignKey("customer.id"), nullable=True'}),
    (
        "add NOT NULL column (with default)",
        {
            "status": "    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, "
            'server_default="new")\n'
        },
    ),
    ("set NOT NULL", {"code_nullable": "False"}),
    ("add unique constraint", {"unique": 'sa.UniqueConstraint("ref", name="uq_event_ref"), '}),
    ("widen type (varchar(50) -> varchar(200))", {"note_type": "sa.String(200)"}),
    ("widen type (int -> bigint)", {"amount_type": "sa.BigInteger"}),
    ("add CHECK", {"check": 'sa.CheckConstraint("amount >= 0", name="ck_event_amount"), '}),
]
BASE_VALUES = {
    "amount_index": "",
    "customer_fk": "sa.Integer, nullable=True",
    "status": "",
    "code_nullable": "True",
    "unique": "",
    "amount_type": "sa.Integer",
    "note_type": "sa.String(50)",
    "check": "",
}


def models_source(step: int) -> str:
    values = dict(BASE_VALUES)
    for _label, change in CHANGES[:step]:
        values.update(change)
    args = values.pop("unique") + values.pop("check")
    table_args = f"    __table_args__ = ({args})\n" if args else ""
    label = CHANGES[step - 1][0] if step else "initial"
    return MODELS_HEAD.format(step=step, label=label, table_args=table_args, **values)


# -- the writer ------------------------------------------------------------------------------


def writer(
    url: str, rate: float, rows: int, out: str, stop: multiprocessing.synchronize.Event
) -> None:
    """Short transactions until ``stop``: INSERT and UPDATE of one row, alternately; each
    write's start (time.time()) and latency, and any error, go to ``out``."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    connection = engine.raw_connection()
    cursor = connection.cursor()
    records: list[str] = []
    interval = 1.0 / rate
    next_ref = 10 * rows
    i = 0
    while not stop.is_set():
        i += 1
        started = time.time()
        try:
            if i % 2:
                next_ref += 1
                cursor.execute(
                    "INSERT INTO event (customer_id, code, amount, ref, note) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (random.randint(1, CUSTOMERS), f"w{i}", random.randint(0, 999), next_ref, "w"),
                )
            else:
                cursor.execute(
                    "UPDATE event SET amount = %s WHERE id = %s",
                    (random.randint(0, 999), random.randint(1, rows)),
                )
            connection.commit()
            records.append(f"{started:.6f} {time.time() - started:.6f} ok")
        except Exception as exc:  # recorded, and the load goes on
            with contextlib.suppress(Exception):
                connection.rollback()
            reason = " ".join(str(exc).split())[:80]
            records.append(f"{started:.6f} {time.time() - started:.6f} error {reason}")
        pause = interval - (time.time() - started)
        if pause > 0:
            time.sleep(pause)
    Path(out).write_text("\n".join(records) + "\n")
    connection.close()
    engine.dispose()


@dataclass
class Write:
    start: float
    latency: float
    error: str

    @property
    def end(self) -> float:
        return self.start + self.latency


def read_writes(path: Path) -> list[Write]:
    writes = []
    for line in path.read_text().splitlines():
        start, latency, status = line.split(" ", 2)
        writes.append(Write(float(start), float(latency), "" if status == "ok" else status[6:]))
    return writes


# -- the two tools ---------------------------------------------------------------------------


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a tool; (wall seconds, its output). Raises on a failure, with its output."""
    started = time.monotonic()
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {output.strip()[-600:]}")
    return elapsed, output


class Tool:
    name = ""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder, self.url = folder, url
        (folder / "benchapp").mkdir(parents=True)
        (folder / "benchapp/__init__.py").write_text("")

    def write_models(self, step: int) -> None:
        (self.folder / "benchapp/models.py").write_text(models_source(step))

    def generate(self, name: str) -> str:
        raise NotImplementedError

    def apply(self) -> tuple[float, str]:
        raise NotImplementedError


class Manage(Tool):
    name = "manage"

    def __init__(self, folder: Path, url: str) -> None:
        super().__init__(folder, url)
        (folder / "pyproject.toml").write_text(
            textwrap.dedent(
                """
                [project]
                name = "benchapp"
                version = "0"

                [tool.manage]
                models = "benchapp.models:Base"
                """
            )
        )
        self.env = {"DATABASE_URL": url}

    def generate(self, name: str) -> str:
        run([str(BIN / "manage"), "makemigrations", "-n", name], self.folder, self.env)
        newest = sorted((self.folder / "migrations").glob("*.py"))[-1]
        return newest.read_text()

    def apply(self) -> tuple[float, str]:
        return run([str(BIN / "manage"), "migrate"], self.folder, self.env)


class Alembic(Tool):
    name = "alembic"

    def __init__(self, folder: Path, url: str) -> None:
        super().__init__(folder, url)
        run([str(BIN / "alembic"), "init", "-t", "generic", "migrations"], folder)
        ini = folder / "alembic.ini"
        ini.write_text(
            ini.read_text().replace(
                "sqlalchemy.url = driver://user:pass@localhost/dbname",
                f"sqlalchemy.url = {url.replace('%', '%%')}",
            )
        )
        env = folder / "migrations/env.py"
        env.write_text(
            env.read_text().replace(
                "target_metadata = None",
                "from benchapp.models import Base\ntarget_metadata = Base.metadata",
            )
        )
        self.count = 0

    def generate(self, name: str) -> str:
        self.count += 1
        rev = f"{self.count:04d}"
        run([str(BIN / "alembic"), "revision", "--autogenerate", "-m", name, "--rev-id", rev],
            self.folder)  # fmt: skip
        return next((self.folder / "migrations/versions").glob(f"{rev}_*.py")).read_text()

    def apply(self) -> tuple[float, str]:
        return run([str(BIN / "alembic"), "upgrade", "head"], self.folder)


TOOLS = {"manage": Manage, "alembic": Alembic}


# -- one run ---------------------------------------------------------------------------------


def fill(url: str, dialect: str, rows: int) -> None:
    series = (
        f"generate_series(1, {rows}) AS s(g)" if dialect == "postgresql" else f"seq_1_to_{rows} s"
    )
    g = "s.g" if dialect == "postgresql" else "s.seq"
    concat = f"'c' || {g}" if dialect == "postgresql" else f"CONCAT('c', {g})"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        customers = (
            f"generate_series(1, {CUSTOMERS}) AS s(g)"
            if dialect == "postgresql"
            else f"seq_1_to_{CUSTOMERS} s"
        )
        connection.exec_driver_sql(
            f"INSERT INTO customer (id, name) SELECT {g}, {concat} FROM {customers}"
        )
        connection.exec_driver_sql(
            "INSERT INTO event (id, customer_id, code, amount, ref, note) "
            f"SELECT {g}, 1 + MOD({g}, {CUSTOMERS}), {concat}, MOD({g}, 1000), {g}, 'n' "
            f"FROM {series}"
        )
    if dialect == "postgresql":  # ids the writer's INSERTs take come after these
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('event', 'id'), (SELECT max(id) FROM event))"
            )
            connection.exec_driver_sql("VACUUM ANALYZE event")  # hint bits, as on a live table
    engine.dispose()


@dataclass
class Row:
    dialect: str
    tool: str
    change: str
    seconds: float
    stall: float
    writes: int
    errors: int
    statements: str


def summary(operations: str) -> str:
    """The operations a generated migration's upgrade() runs, in short."""
    body = operations.split("def upgrade()", 1)[-1].split("def downgrade()", 1)[0]
    ops = []
    for line in body.splitlines():
        line = line.strip()
        if line.startswith(("op.", "with op.", "batch_op.")):
            ops.append(line.split("(", 1)[0].removeprefix("with "))
        if "concurrently" in line.lower() and "concurrently" not in ops[-1:]:
            ops.append("concurrently")
        if "not_valid" in line.lower() or "not valid" in line.lower():
            ops.append("NOT VALID")
    return ", ".join(ops) or "(nothing generated)"


def one_run(dialect: str, tool_name: str, rows: int, rate: float, work: Path) -> list[Row]:
    folder = work / f"{dialect}-{tool_name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    results: list[Row] = []
    with servers.server_database(os.environ[SERVERS[dialect]], "bench_load") as url:
        tool = TOOLS[tool_name](folder, url)
        tool.write_models(0)
        tool.generate("initial")
        tool.apply()
        started = time.monotonic()
        fill(url, dialect, rows)
        print(f"  {dialect} {tool_name}: {rows} rows in {time.monotonic() - started:.1f} s",
              file=sys.stderr)  # fmt: skip
        log = folder / "writes.txt"
        stop = multiprocessing.Event()
        process = multiprocessing.Process(target=writer, args=(url, rate, rows, str(log), stop))
        process.start()
        time.sleep(2.0)  # the load is steady before the first change
        windows: list[tuple[str, float, float, float, str]] = []
        t0 = time.time()
        seconds, _output = tool.apply()  # at head: the tool's own start-up, and the baseline
        windows.append(("(nothing to apply: baseline)", t0, time.time(), seconds, ""))
        time.sleep(1.5)
        for step, (label, _change) in enumerate(CHANGES, start=1):
            tool.write_models(step)
            slug = label.split(" (")[0].replace(" ", "_").lower()
            text = tool.generate(slug)
            t0 = time.time()
            try:
                seconds, _output = tool.apply()
            except RuntimeError as exc:
                seconds = float("nan")
                print(f"  {dialect} {tool_name} {label}: {exc}", file=sys.stderr)
            t1 = time.time()
            windows.append((label, t0, t1, seconds, summary(text)))
            print(f"  {dialect} {tool_name} {label}: {seconds:.2f} s", file=sys.stderr)
            time.sleep(1.5)  # the writer catches up before the next change
        stop.set()
        process.join()
        writes = read_writes(log)
        for label, t0, t1, seconds, statements in windows:
            during = [w for w in writes if w.end >= t0 and w.start <= t1]
            stall = max((w.latency for w in during), default=float("nan"))
            errors = sum(1 for w in during if w.error)
            results.append(
                Row(dialect, tool_name, label, seconds, stall, len(during), errors, statements)
            )
    return results


def table(rows: list[Row]) -> str:
    lines = [
        "| database | change | tool | migration (s) | longest write stall (s) | writes during "
        "| failed writes | what the generated upgrade() runs |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.dialect} | {r.change} | {r.tool} | {r.seconds:.2f} | {r.stall:.3f} | "
            f"{r.writes} | {r.errors} | {r.statements} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=200.0, help="writes a second")
    parser.add_argument("--dialects", default="postgresql,mariadb")
    parser.add_argument("--tools", default="manage,alembic")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/.work/write_load.md")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-write-load-"))
    rows: list[Row] = []
    try:
        for dialect in options.dialects.split(","):
            if not os.environ.get(SERVERS[dialect]):
                print(f"{SERVERS[dialect]} is not set: {dialect} left out", file=sys.stderr)
                continue
            for tool in options.tools.split(","):
                rows.extend(one_run(dialect, tool, options.rows, options.rate, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    header = (
        f"{options.rows:,} rows, writer at {options.rate:g} writes/s, "
        f"load average {load} (1, 5, 15 min) at the end, {os.cpu_count()} CPUs\n\n"
    )
    text = header + table(rows)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
