"""The corpus of ``tests/corpus/`` with plain Alembic, side by side with manage (issue 16).

A benchmark, not a test: for each (case, dialect) it runs the corpus cycle with Alembic's own
``generic`` template (``alembic init``, ``target_metadata`` set, nothing else changed):
``revision --autogenerate`` -> ``upgrade head`` -> ``check`` -> v2 models -> ``revision
--autogenerate`` -> ``upgrade head`` -> ``check`` -> rows read back -> ``downgrade base`` ->
``upgrade head``, then ``compare_metadata`` (types and server defaults compared); the models'
CHECK constraints and sequences must be in the database before the downgrade, as in the corpus.
manage's column comes from running ``tests/corpus`` with pytest. The table per dialect goes to
``docs/corpus-benchmark.md``.

Usage (servers as for the tests; a dialect without its URL is left out)::

    export MANAGE_TEST_POSTGRESQL_URL=... MANAGE_TEST_MARIADB_URL=...
    .venv/bin/python bench/corpus_alembic.py [--cases a,b] [--skip-manage]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import servers  # noqa: E402  # bench/servers.py

from tests.corpus.test_corpus import CASES, _literals, missing_sequences  # noqa: E402

SERVERS = {"postgresql": "MANAGE_TEST_POSTGRESQL_URL", "mariadb": "MANAGE_TEST_MARIADB_URL"}
DIALECTS = ["sqlite", "postgresql", "mariadb"]


@contextlib.contextmanager
def _database(dialect: str, folder: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'db.sqlite3'}"
        return
    with servers.server_database(os.environ[SERVERS[dialect]], "bench_alembic") as url:
        yield url


def _forget(folder: Path) -> None:
    """As a new process: the case's modules gone, and SQLModel's global tables and classes."""
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(str(folder)):
            del sys.modules[name]
    if (sqlmodel := sys.modules.get("sqlmodel.main")) is not None:
        sqlmodel.SQLModel.metadata.clear()
        sqlmodel.default_registry.dispose()


def _models(folder: Path, base: str = "Base") -> sa.MetaData:
    _forget(folder)
    import importlib

    return getattr(importlib.import_module("shop.models"), base).metadata  # type: ignore[no-any-return]


def _rows(url: str, rows: dict[str, list[dict[str, Any]]], metadata: sa.MetaData) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            for name, items in rows.items():
                connection.execute(metadata.tables[name].insert(), items)
    finally:
        engine.dispose()


def _read(url: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    found = {}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            for name, items in rows.items():
                schema, _, table_name = name.rpartition(".")
                table = sa.Table(
                    table_name, sa.MetaData(), schema=schema or None, autoload_with=connection
                )
                columns = [table.c[key] for key in items[0]]
                query = sa.select(*columns).order_by(*columns[:1])
                found[name] = [dict(r._mapping) for r in connection.execute(query)]
    finally:
        engine.dispose()
    return found


def _missing_checks(url: str, metadata: sa.MetaData) -> list[str]:
    """The models' named CHECK constraints the database lacks, as the corpus checks them."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    missing = []
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for table in metadata.tables.values():
                names = {
                    str(c["name"]).lower()
                    for c in inspector.get_check_constraints(table.name, schema=table.schema)
                }
                missing += [
                    str(c.name)
                    for c in table.constraints
                    if isinstance(c, sa.CheckConstraint)
                    and isinstance(c.name, str)
                    and not getattr(c, "_type_bound", False)
                    and c.name.lower() not in names
                ]
    finally:
        engine.dispose()
    return missing


def alembic_cycle(case: str, dialect: str) -> str:
    """ "pass", or the step that failed and why."""
    folder = Path(tempfile.mkdtemp(prefix="bench-alembic-"))
    step = "setup"
    try:
        with _database(dialect, folder) as url:
            (folder / "shop").mkdir()
            (folder / "shop/__init__.py").write_text("")
            config = Config(str(folder / "alembic.ini"))
            with contextlib.redirect_stdout(io.StringIO()):
                command.init(config, str(folder / "migrations"), template="generic")
            config = Config(str(folder / "alembic.ini"))
            config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
            first = _literals(CASES / case / "v1.py")
            base = first.get("MODELS", "Base")
            env = folder / "migrations/env.py"
            env.write_text(
                env.read_text().replace(
                    "target_metadata = None",
                    f"from shop.models import {base}\ntarget_metadata = {base}.metadata",
                )
            )
            sys.path.insert(0, str(folder))
            shutil.copy(CASES / case / "v1.py", folder / "shop/models.py")
            steps = [("v1", first)]
            if (CASES / case / "v2.py").exists():
                steps.append(("v2", _literals(CASES / case / "v2.py")))
            rows = first.get("ROWS", {})
            for number, (label, literals) in enumerate(steps):
                shutil.copy(CASES / case / f"{label}.py", folder / "shop/models.py")
                _forget(folder)
                step = f"{label}: revision --autogenerate"
                command.revision(config, message=label, autogenerate=True, rev_id=f"{number:04d}")
                step = f"{label}: upgrade"
                command.upgrade(config, "head")
                step = f"{label}: check"
                _forget(folder)
                command.check(config)
                if number == 0:
                    step = "v1: insert rows"
                    _rows(url, rows, _models(folder, base))
                else:
                    step = "v2: rows kept"
                    expected = literals.get("ROWS", rows)
                    if _read(url, expected) != expected:
                        return step
            step = "named CHECK constraints"
            if missing := _missing_checks(url, _models(folder, base)):
                return f"{step}: {', '.join(missing)} missing"
            step = "sequences"
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            with engine.connect() as connection:
                missing = missing_sequences(connection, _models(folder, base))
            engine.dispose()
            if missing:
                return f"{step}: {', '.join(missing)} missing"
            step = "downgrade base"
            command.downgrade(config, "base")
            step = "upgrade again"
            command.upgrade(config, "head")
            step = "compare_metadata"
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            metadata = _models(folder, base)
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={"compare_type": True, "compare_server_default": True},
                )
                diffs = compare_metadata(context, metadata)
            engine.dispose()
            return "pass" if not diffs else f"{step}: {len(diffs)} differences"
    except Exception as exc:  # a benchmark records every failure and goes on
        reason = " ".join(str(exc).split())[:80]
        return f"{step}: {type(exc).__name__}: {reason}"
    finally:
        _forget(folder)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
        shutil.rmtree(folder, ignore_errors=True)


def manage_results() -> dict[tuple[str, str], str]:
    """Each (case, dialect) of ``tests/corpus`` with manage: "pass" or "fail"."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-n", "2", "-p", "no:cacheprovider",
         str(ROOT / "tests/corpus")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = {}
    for match in re.finditer(r"^(PASSED|FAILED|SKIPPED)\S* .*test_cycle\[(\w+)-(\w+)\]", run.stdout,
                             re.MULTILINE):  # fmt: skip
        found[(match.group(2), match.group(3))] = match.group(1).lower().replace("passed", "pass")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--skip-manage", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "docs/corpus-benchmark.md"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    cases = sorted(p.name for p in CASES.iterdir() if (p / "v1.py").exists())
    if args.cases:
        cases = [c for c in cases if c in args.cases.split(",")]
    dialects = [d for d in DIALECTS if d == "sqlite" or os.environ.get(SERVERS[d])]
    manage = {} if args.skip_manage else manage_results()
    lines = [
        "# The corpus, manage and plain Alembic side by side",
        "",
        "Written by `bench/corpus_alembic.py` (a benchmark, not a test): each case of",
        "`tests/corpus/` through the full cycle, with manage and with Alembic's `generic`",
        "template (`target_metadata` set, nothing else). A cell is `pass` or where it failed.",
    ]
    for dialect in dialects:
        totals = {"manage": 0, "alembic": 0}
        rows = []
        for case in cases:
            applies = _literals(CASES / case / "v1.py").get("DIALECTS", DIALECTS)
            if dialect not in applies:
                continue
            ours = manage.get((case, dialect), "-")
            theirs = alembic_cycle(case, dialect)
            totals["manage"] += ours == "pass"
            totals["alembic"] += theirs == "pass"
            rows.append(f"| {case} | {ours} | {theirs.replace('|', '/')} |")
            print(dialect, case, ours, theirs, flush=True)
        lines += [
            "",
            f"## {dialect}: manage {totals['manage']}/{len(rows)}, "
            f"Alembic {totals['alembic']}/{len(rows)}",
            "",
            "| case | manage | plain Alembic |",
            "|---|---|---|",
            *rows,
        ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
