"""Proof of equality (issue 15): for every history of the test corpus, a database fast-forwarded
in one pass and one migrated step by step have the same reflected schema (tables, columns and
types, defaults, constraints and their names, indexes, enum types, sequences, comments) and the
same version rows, on SQLite, PostgreSQL and MariaDB.

The histories: the example project, the generated 20x20, 100x100 and 300x300 benchmark histories
(bench/generate.py), a squashed one, an Alembic hex-id one, and every case of tests/corpus/cases
(two migrations each: v1, then v2). A history the replay cannot follow exactly falls back to step
by step; those are listed in FALLS_BACK with the reason the run gives, so a history that stops
being fast-forwarded fails here too.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.cli.schema_history import write_migration
from tests.cli.test_schema import run_statements
from tests.conftest import DIALECTS, Project
from tests.corpus.test_corpus import CASES, _literals, _ok, _params
from tests.fastforward import differences, reflected_schema

REPO = Path(__file__).resolve().parents[2]

FALLS_BACK: dict[str, str] = {
    "one_off_default": "Migration 0002_add_orders_code runs SQL of its own",  # UPDATE ... SET
    "check_constraint_unnamed-sqlite": "batch_alter_table(table_args=...)",
    "check_batch_changes-sqlite": "batch_alter_table(table_args=...)",
    "check_batch_rename-sqlite": "batch_alter_table(table_args=...)",
    "check_batch_rename-postgresql": "renames a column",
    "check_batch_type_bound-sqlite": "holding an unnamed CHECK constraint",
    "rename_table-postgresql": "renames a table",
    "rename_table_unnamed_fk-postgresql": "renames a table",
    "rename_column-postgresql": "renames a column",
    # MariaDB keeps the index it made for a foreign key after the key is dropped.
    **{
        f"{case}-mariadb": "drops a foreign key"
        for case in (
            "drop_indexed_fk_column",
            "drop_referenced_table",
            "fk_ondelete_changed",
            "fk_retarget",
            "naming_convention_changes",
            "sqlmodel_relationships",
            "unnamed_fk_add_column",
            "unnamed_fk_dropped",
            "unnamed_fk_options",
        )
    },
}
GENERATED_FALLS_BACK = {"mariadb": "drops a foreign key"}
"""The generated histories drop foreign keys: on MariaDB they are applied step by step."""
"""Corpus cases applied step by step even on an empty database, and the words of the reason."""


def _both(
    project: Project, fresh_database: Any, *, count: int | None = None, ddl: bool = False
) -> str:
    """Migrate one fresh database in one pass and another step by step; assert they are the
    same. With ``ddl``, when the one-pass run fast-forwarded, a third database made by running
    what ``manage schema`` prints is the same too. Returns what ``migrate`` said about the
    one-pass run (its last line, or the note on stderr when it fell back)."""
    urls = []
    for name in ("one_pass", "step_by_step"):
        folder = project.root.parent / name
        folder.mkdir(exist_ok=True)
        urls.append(fresh_database(project.dialect, folder))
    one_pass = project.run("--database-url", urls[0], "migrate")
    assert one_pass.exit_code == 0, one_pass.output
    step_by_step = project.run("--database-url", urls[1], "migrate", "--step-by-step")
    assert step_by_step.exit_code == 0, step_by_step.output
    assert "Fast-forwarded" not in step_by_step.stdout
    found = differences(reflected_schema(urls[0]), reflected_schema(urls[1]))
    assert found == [], "\n".join(found)
    assert _versions(urls[0]) == _versions(urls[1])
    said = one_pass.stdout.splitlines()[-1]
    if ddl and "Fast-forwarded" in said:
        folder = project.root.parent / "schema_ddl"
        folder.mkdir(exist_ok=True)
        url = fresh_database(project.dialect, folder)
        shown = project.run("--database-url", url, "schema", "--dialect", project.dialect)
        assert (shown.exit_code, shown.stderr) == (0, ""), shown.output
        run_statements(url, [s for s in shown.stdout.split(";\n") if s.strip()])
        migrated = reflected_schema(urls[1])
        migrated.pop("alembic_version")  # the schema of the migrations, not of their record
        found = differences(reflected_schema(url), migrated)
        assert found == [], "manage schema:\n" + "\n".join(found).replace("one pass", "schema")
    if count is not None and "Fast-forwarded" not in said:
        assert GENERATED_FALLS_BACK[project.dialect] in one_pass.stderr, one_pass.stderr
    elif count is not None:
        assert re.fullmatch(rf"  Fast-forwarded {count} migrations to \S+ in one pass\.", said)
    return said if "Fast-forwarded" in said else one_pass.stderr.strip()


def _versions(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            return sorted(row[0] for row in rows)
    finally:
        engine.dispose()


@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning"
)
# Alembic's, as its batch copy of a SQLite table leaves out a Boolean's or Enum's unnamed CHECK
# (check_batch_type_bound): the step-by-step database loses it, and the one-pass run must too.
@pytest.mark.filterwarnings("ignore:Unnamed CHECK constraint on reflected table:UserWarning")
@pytest.mark.slow
@pytest.mark.parametrize(("case", "dialect"), _params())
def test_corpus_case(case: str, dialect: str, make_project: Any, fresh_database: Any) -> None:
    folder = CASES / case
    v1, v2 = folder / "v1.py", folder / "v2.py"
    project: Project = make_project(dialect)
    project.write("shop/models.py", v1.read_text(encoding="utf-8"))
    if (base := _literals(v1).get("MODELS", "Base")) != "Base":
        project.edit("pyproject.toml", "shop.models:Base", f"shop.models:{base}")
    _ok(project, "makemigrations", "--no-input")
    if v2.exists():
        project.write("shop/models.py", v2.read_text(encoding="utf-8"))
        _ok(project, "makemigrations", "--no-input", *_literals(v2).get("ARGS", []))
    said = _both(project, fresh_database, ddl=True)
    reason = FALLS_BACK.get(case) or FALLS_BACK.get(f"{case}-{dialect}")
    if reason:
        assert reason in said
    elif len(project.migrations()) > 1:
        assert said.startswith("  Fast-forwarded "), said


@pytest.mark.parametrize("dialect", DIALECTS)
def test_example_project(
    dialect: str, tmp_path: Path, fresh_database: Any, monkeypatch: Any
) -> None:
    root = tmp_path / "example"
    shutil.copytree(REPO / "example_project", root, ignore=shutil.ignore_patterns("*.sqlite3"))
    monkeypatch.chdir(root)
    _both(Project(root, "", dialect), fresh_database, count=4)


def _generated(tmp_path: Path, monkeypatch: Any, size: int) -> Path:
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import generate  # bench/generate.py

    generate.generate(size, size, 1, tmp_path / "bench")
    root = tmp_path / "bench" / "manage"
    monkeypatch.chdir(root)
    return root


SIZES = [pytest.param(20, dialect, id=f"20x20-{dialect}") for dialect in DIALECTS] + [
    pytest.param(size, dialect, id=f"{size}x{size}-{dialect}", marks=pytest.mark.slow)
    for size in (100, 300)
    for dialect in DIALECTS
    # MariaDB applies the generated histories step by step (they drop foreign keys): at 300x300
    # that compares two step-by-step runs of minutes each, which proves nothing more.
    if (size, dialect) != (300, "mariadb")
]


@pytest.mark.parametrize(("size", "dialect"), SIZES)
def test_generated_history(
    size: int, dialect: str, tmp_path: Path, fresh_database: Any, monkeypatch: Any
) -> None:
    root = _generated(tmp_path, monkeypatch, size)
    _both(Project(root, "", dialect), fresh_database, count=size)


@pytest.mark.filterwarnings(  # Alembic's, about the squashed alter_column's options (PostgreSQL)
    "ignore:autoincrement and existing_autoincrement only make sense for MySQL:UserWarning"
)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_squashed_history(
    dialect: str, tmp_path: Path, fresh_database: Any, monkeypatch: Any
) -> None:
    root = _generated(tmp_path, monkeypatch, 20)
    project = Project(root, "", dialect)
    (root.parent / "squash").mkdir()
    url = fresh_database(dialect, root.parent / "squash")  # the squash renders for the dialect
    _ok(project, "--database-url", url, "squashmigrations", "0005", "0015", "--no-input")
    assert len(project.migrations()) == 10  # 0001-0004, the squashed one, 0016-0020
    _both(project, fresh_database, count=10)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_alembic_hex_id_history(
    dialect: str, tmp_path: Path, fresh_database: Any, monkeypatch: Any
) -> None:
    root = _generated(tmp_path, monkeypatch, 20)
    folder = root / "migrations"
    ids = {p.stem: hashlib.sha256(p.stem.encode()).hexdigest()[:12] for p in folder.glob("*.py")}
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for old, new in ids.items():
            text = text.replace(f"'{old}'", f"'{new}'").replace(f'"{old}"', f'"{new}"')
        path.unlink()
        (folder / f"{ids[path.stem]}_{path.stem[5:]}.py").write_text(text, encoding="utf-8")
    project = Project(root, "", dialect)
    said = _both(project, fresh_database, count=20)
    if dialect not in GENERATED_FALLS_BACK:
        assert said.endswith(f"to {ids[max(ids)]} in one pass.")


COLUMN_CHECKS = """
def upgrade():
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), sa.CheckConstraint("qty >= 0", name="ck_item_qty")),
        sa.Column("price", sa.Integer(), sa.CheckConstraint("price > 0"{unnamed})),
        sa.Column("label", sa.String(20)),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("item")
"""
BATCH = """
def upgrade():
    with op.batch_alter_table("item") as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(10)))
        batch_op.alter_column("label", existing_type=sa.String(20), type_=sa.String(40))


def downgrade():
    with op.batch_alter_table("item") as batch_op:
        batch_op.alter_column("label", existing_type=sa.String(40), type_=sa.String(20))
        batch_op.drop_column("code")
"""


@pytest.mark.filterwarnings("ignore:Unnamed CHECK constraint on reflected table:UserWarning")
@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
# Not MariaDB: SQLAlchemy writes a named CHECK on a column inline (``qty INTEGER CONSTRAINT
# ck_item_qty CHECK (qty >= 0)``), which MariaDB refuses as a syntax error, step by step too.
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_column_level_checks_in_a_migration(
    dialect: str, named: bool, make_project: Any, fresh_database: Any
) -> None:
    """CHECKs written on the columns of a hand-written create_table (``makemigrations`` writes
    none: Alembic renders no column-level constraint), then a batch that adds a column and
    changes a type. On SQLite the batch copies the table and keeps the named CHECK, and leaves
    the unnamed one out: the one-pass run must build the same, or fall back."""
    project: Project = make_project(dialect)
    unnamed = ', name="ck_item_price"' if named else ""
    write_migration(project, "0001_initial", None, COLUMN_CHECKS.format(unnamed=unnamed))
    write_migration(project, "0002_batch", "0001_initial", BATCH)
    said = _both(project, fresh_database, ddl=True)
    if dialect == "sqlite" and not named:
        assert "holding an unnamed CHECK constraint" in said, said
    else:
        assert said.startswith("  Fast-forwarded 2 migrations"), said
