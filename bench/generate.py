"""Generate seeded benchmark projects: a ``manage`` project and the equivalent plain Alembic one.

One seeded spec (tables, columns, and the history that builds them) is written twice:

- ``OUT/manage/``: ``pyproject.toml`` with ``[tool.manage]`` (and ``[tool.pytest.ini_options]``),
  ``benchapp/models.py`` (the final state), ``migrations/NNNN_<name>.py`` as ``manage
  makemigrations`` writes them, and ``tests/test_database.py`` (the pytest plugin's fixture);
- ``OUT/alembic/``: ``alembic.ini``, a standard ``env.py``, ``script.py.mako``, ``versions/`` with
  the same migration files, and its own copy of ``benchapp/``;
- ``OUT/django/``: the same models and history as a Django project (``bench/djangogen.py``).

The migrations are not produced by running ``manage makemigrations`` M times (far too slow at
300 migrations): each one is built as Alembic operation objects, rendered with
``alembic.autogenerate.render_python_code`` (batch mode and a SQLite context, as ``manage`` renders
on SQLite) and poured into ``manage/templates/script.py.mako`` with the variables Alembic passes.
Names follow ``manage``'s own policy (``manage.core.revisions``), so replaying migrations 1..M
yields exactly the models: ``manage makemigrations --check`` and ``alembic check`` find nothing.

Usage::

    .venv/bin/python bench/generate.py --tables 100 --migrations 100 --seed 1 --out /tmp/b100
    .venv/bin/python bench/generate.py --tables 20 --migrations 20 --out /tmp/b20 --verify
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import djangogen  # the sibling modules: the Django project, the server databases
import servers
import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.util import format_as_comma
from mako.template import Template  # type: ignore[import-untyped]
from sqlalchemy.sql.naming import conv

from manage.core import revisions

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "manage" / "templates" / "script.py.mako"
VENV_BIN = Path(sys.executable).parent
DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Kind = Literal["int", "bigint", "str", "text", "bool", "datetime", "numeric"]

# Table names stay at most 14 characters so that every constraint name the naming convention
# builds (fk_<table>_<ref>_id_<ref>) fits PostgreSQL's 63-character identifiers.
MAX_TABLE_NAME = 14
NOUNS = (
    "customer", "invoice", "product", "supplier", "warehouse", "shipment", "payment", "account",
    "address", "category", "review", "coupon", "cart", "wishlist", "employee", "department",
    "project", "task", "ticket", "comment", "attachment", "tag", "article", "author", "book",
    "loan", "member", "branch", "region", "country", "city", "currency", "tax", "discount",
    "subscription", "plan", "feature", "session", "device", "event", "venue", "booking", "room",
    "guest", "vehicle", "driver", "route", "stop", "trip", "course", "lesson", "student",
    "teacher", "grade", "policy", "claim", "contract", "vendor", "asset", "license", "report",
    "dashboard", "widget", "metric", "alert", "incident", "team", "role", "permission", "profile",
)  # fmt: skip
PREFIXES = (
    "sales", "stock", "price", "audit", "media", "order", "user", "web", "crm", "hr", "fin",
    "ops", "api", "legacy", "archive",
)  # fmt: skip

COLUMN_POOLS: dict[Kind, tuple[str, ...]] = {
    "str": (
        "name", "title", "email", "code", "slug", "status", "label", "phone", "city", "reference",
        "sku", "username", "first_name", "last_name", "summary", "currency", "locale", "url",
    ),
    "text": ("description", "notes", "body", "content", "details", "remarks"),
    "int": ("quantity", "position", "views", "score", "stock", "priority", "version", "attempts"),
    "bigint": ("external_id", "byte_size", "counter"),
    "bool": ("is_active", "is_deleted", "is_public", "verified", "archived", "enabled", "featured"),
    "datetime": (
        "updated_at", "published_at", "deleted_at", "last_login_at", "expires_at", "starts_at",
    ),
    "numeric": ("price", "amount", "total", "balance", "discount", "tax_rate", "weight"),
}  # fmt: skip
KIND_WEIGHTS: dict[Kind, int] = {
    "str": 34, "int": 14, "text": 8, "bool": 12, "datetime": 12, "numeric": 12, "bigint": 4,
}  # fmt: skip
STRING_LENGTHS = (20, 32, 50, 64, 100, 120, 200, 255)
CHANGE_WEIGHTS = {
    "add_column": 35, "alter_type": 20, "alter_nullable": 20, "add_index": 15, "add_unique": 10,
}  # fmt: skip
BASE_DATE = dt.datetime(2026, 1, 5, 9, 0, 0)


# -- the spec --------------------------------------------------------------------------------------


@dataclass
class ColumnSpec:
    """One column as the models declare it (and as the history has built it so far)."""

    name: str
    kind: Kind
    nullable: bool
    length: int | None = None  # String(length)
    precision: int | None = None  # Numeric(precision, scale)
    scale: int | None = None
    server_default: str | None = None  # "now" (func.now()) or a literal such as "0"
    index: bool = False
    unique: bool = False
    fk: str | None = None  # the referenced table; the column is <fk>_id
    primary_key: bool = False

    def model_type(self) -> sa.types.TypeEngine[Any]:
        """The type the models declare."""
        if self.kind == "str":
            return sa.String(self.length)
        if self.kind == "numeric":
            return sa.Numeric(self.precision, self.scale)
        if self.kind == "datetime":
            return sa.DateTime(timezone=True)
        types: dict[str, sa.types.TypeEngine[Any]] = {
            "int": sa.Integer(),
            "bigint": sa.BigInteger(),
            "text": sa.Text(),
            "bool": sa.Boolean(),
        }
        return types[self.kind]

    def reflected_type(self) -> sa.types.TypeEngine[Any]:
        """The type SQLite reflects, which ``manage`` renders as ``existing_type``."""
        if self.kind == "str":
            return sa.VARCHAR(self.length)
        if self.kind == "numeric":
            return sa.NUMERIC(self.precision, self.scale)
        types: dict[str, sa.types.TypeEngine[Any]] = {
            "int": sa.INTEGER(),
            "bigint": sa.BIGINT(),
            "text": sa.TEXT(),
            "bool": sa.BOOLEAN(),
            "datetime": sa.DATETIME(),
        }
        return types[self.kind]

    def reflected_default(self) -> sa.DefaultClause | None:
        """The server default SQLite reflects (``existing_server_default``)."""
        if self.server_default is None:
            return None
        if self.server_default == "now":
            return sa.DefaultClause(sa.text("(CURRENT_TIMESTAMP)"))
        return sa.DefaultClause(sa.text(repr(self.server_default)))

    def column(self, *, with_constraints: bool) -> sa.Column[Any]:
        """A Core column; constraints (FK, index, unique) only for a CREATE TABLE."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {"nullable": self.nullable, "primary_key": self.primary_key}
        if with_constraints:
            if self.fk:
                args.append(sa.ForeignKey(f"{self.fk}.id"))
            kwargs["index"] = self.index or None
            kwargs["unique"] = self.unique or None
        if self.server_default == "now":
            kwargs["server_default"] = sa.func.now()
        elif self.server_default is not None:
            kwargs["server_default"] = self.server_default
        return sa.Column(self.name, self.model_type(), *args, **kwargs)


@dataclass
class TableSpec:
    name: str
    columns: list[ColumnSpec]
    uniques: list[tuple[str, ...]] = field(default_factory=list)  # multi-column constraints

    def col(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    def unique_leads(self) -> set[str]:
        """Columns that already name a unique constraint (uq_<table>_<first column>)."""
        return {c.name for c in self.columns if c.unique} | {u[0] for u in self.uniques}


@dataclass
class Migration:
    number: int
    upgrade: ops.UpgradeOps
    create_date: dt.datetime
    counts: dict[str, int]
    revision: str = ""
    message: str = ""
    # The same changes for the Django project, snapshots as they stand after this migration:
    # ("create", table, None), ("add", table, column) or ("alter", table, column).
    changes: list[tuple[str, TableSpec, ColumnSpec | None]] = field(default_factory=list)


@dataclass
class Project:
    tables: list[TableSpec]
    migrations: list[Migration]
    all_tables: list[TableSpec] = field(default_factory=list)  # the final state, every column


def class_name(table: str) -> str:
    return "".join(part.capitalize() for part in table.split("_"))


def table_names(rng: random.Random, count: int) -> list[str]:
    combos = [f"{p}_{n}" for p in PREFIXES for n in NOUNS if len(f"{p}_{n}") <= MAX_TABLE_NAME]
    rng.shuffle(combos)
    nouns = list(NOUNS)
    rng.shuffle(nouns)
    names = [n for n in nouns + combos if len(n) <= MAX_TABLE_NAME]
    number = 2
    while len(names) < count:  # beyond ~1000 tables: numbered copies
        names.extend(f"{n[: MAX_TABLE_NAME - 3]}_{number}" for n in nouns)
        number += 1
    return names[:count]


# -- building the history --------------------------------------------------------------------------


class Builder:
    """Simulates the project's history: every change is applied to the spec and recorded as ops."""

    def __init__(self, tables: int, migrations: int, seed: int) -> None:
        if tables < 1 or migrations < 1:
            raise SystemExit("--tables and --migrations must be at least 1")
        self.rng = random.Random(seed)
        self.n_tables = tables
        self.n_migrations = migrations
        self.names = table_names(self.rng, tables)
        self.tables: list[TableSpec] = []

    def build(self, models_at: int | None = None) -> Project:
        """The whole history; the models are the final state, or the state after ``models_at``."""
        schedule = self._creation_schedule()
        migrations = []
        date = BASE_DATE
        snapshot = None
        for number in range(1, self.n_migrations + 1):
            date += dt.timedelta(minutes=self.rng.randint(3, 600), seconds=self.rng.random() * 60)
            migrations.append(self._migration(number, schedule.get(number, []), date))
            if number == models_at:
                snapshot = copy.deepcopy(self.tables)
        return Project(snapshot if snapshot is not None else self.tables, migrations, self.tables)

    def _creation_schedule(self) -> dict[int, list[str]]:
        """Which tables each migration creates: 40% in the initial one, the rest spread out."""
        if self.n_migrations == 1:
            return {1: list(self.names)}
        initial = max(1, math.ceil(self.n_tables * 0.4))
        schedule: dict[int, list[str]] = {1: self.names[:initial]}
        for name in self.names[initial:]:
            schedule.setdefault(self.rng.randint(2, self.n_migrations), []).append(name)
        return {n: sorted(names, key=self.names.index) for n, names in schedule.items()}

    def _migration(self, number: int, new_tables: list[str], date: dt.datetime) -> Migration:
        counts: dict[str, int] = {}
        upgrade: list[ops.MigrateOperation] = []
        existing = list(self.tables)
        metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
        specs = []
        for name in new_tables:
            specs.append(self._new_table(name))
            self.tables.append(specs[-1])
            self._core_table(specs[-1], metadata)
        for name in self._sorted_names() if len(specs) > 1 else new_tables:
            if name not in new_tables:
                continue
            table = metadata.tables[name]
            upgrade.append(ops.CreateTableOp.from_table(table))
            indexes = sorted(table.indexes, key=lambda ix: str(ix.name))
            if indexes:
                upgrade.append(
                    ops.ModifyTableOps(name, [ops.CreateIndexOp.from_index(ix) for ix in indexes])
                )
            counts["create_table"] = counts.get("create_table", 0) + 1
        # manage puts every create_table before the other changes (Alembic interleaves them).
        upgrade.sort(key=lambda op: not isinstance(op, ops.CreateTableOp))
        touched: list[tuple[str, str, str]] = []
        if number > 1 and (not new_tables or self.rng.random() < 0.3):
            upgrade.extend(self._changes(existing, self.rng.randint(1, 3), counts, touched))
        changes: list[tuple[str, TableSpec, ColumnSpec | None]] = [
            ("create", copy.deepcopy(self._table(op.table_name)), None)
            for op in upgrade
            if isinstance(op, ops.CreateTableOp)
        ]
        for kind, table_name, column in touched:
            table = self._table(table_name)
            changes.append((kind, table, copy.deepcopy(table.col(column))))
        return Migration(number, ops.UpgradeOps(upgrade), date, counts, changes=changes)

    def _sorted_names(self) -> list[str]:
        """The tables in ``MetaData.sorted_tables`` order, which autogenerate creates them in.

        The order depends on the whole graph of foreign keys, so it is computed on a skeleton of
        every table (its id and foreign key columns only).
        """
        skeleton = sa.MetaData()
        for spec in self.tables:
            sa.Table(
                spec.name,
                skeleton,
                sa.Column("id", sa.Integer, primary_key=True),
                *(sa.Column(c.name, sa.ForeignKey(f"{c.fk}.id")) for c in spec.columns if c.fk),
            )
        return [t.name for t in skeleton.sorted_tables]

    def _new_table(self, name: str) -> TableSpec:
        rng = self.rng
        columns = [ColumnSpec("id", "int", nullable=False, primary_key=True)]
        taken = {"id"}
        targets = [t.name for t in self.tables]
        for ref in rng.sample(targets, k=min(len(targets), rng.choice((0, 1, 1, 2, 3)))):
            columns.append(
                ColumnSpec(
                    f"{ref}_id",
                    "int",
                    nullable=rng.random() < 0.25,
                    fk=ref,
                    index=rng.random() < 0.6,
                )
            )
            taken.add(f"{ref}_id")
        for _ in range(rng.randint(2, 7)):
            columns.append(self._random_column(taken, new_table=True))
        if rng.random() < 0.6:
            columns.append(
                ColumnSpec("created_at", "datetime", nullable=False, server_default="now")
            )
        spec = TableSpec(name, columns)
        pairable = [c.name for c in columns[1:] if not c.unique and c.kind in ("str", "int")]
        if len(pairable) >= 2 and rng.random() < 0.15:
            spec.uniques.append(tuple(rng.sample(pairable, 2)))
        return spec

    def _random_column(self, taken: set[str], *, new_table: bool) -> ColumnSpec:
        rng = self.rng
        kind: Kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
        pool = [n for n in COLUMN_POOLS[kind] if n not in taken]
        name = rng.choice(pool) if pool else f"{rng.choice(COLUMN_POOLS[kind])}_{len(taken)}"
        taken.add(name)
        col = ColumnSpec(name, kind, nullable=rng.random() < 0.5)
        if kind == "str":
            col.length = rng.choice(STRING_LENGTHS)
            col.index = rng.random() < 0.2
            col.unique = not col.index and rng.random() < 0.12
        elif kind == "numeric":
            col.precision, col.scale = rng.choice(((10, 2), (12, 2), (8, 4), (14, 4)))
        elif kind in ("int", "bigint", "datetime"):
            col.index = rng.random() < 0.12
        if not new_table and not col.nullable:
            # A NOT NULL column added to an existing table needs a default for the existing rows.
            col.server_default = {"datetime": "now", "bool": "0", "str": "", "text": ""}.get(
                kind, "0"
            )
        return col

    # -- changes to existing tables

    def _changes(
        self,
        tables: list[TableSpec],
        count: int,
        counts: dict[str, int],
        record: list[tuple[str, str, str]],
    ) -> list[ops.ModifyTableOps]:
        """``count`` random changes to existing tables; ``record`` gets, for each, "add" or
        "alter" with the table and the column (every change touches exactly one column)."""
        touched: set[tuple[str, str]] = set()
        per_table: dict[str, list[ops.MigrateOperation]] = {}
        done = 0
        attempts = 0
        while done < count and attempts < 50:
            attempts += 1
            kind = self.rng.choices(list(CHANGE_WEIGHTS), weights=list(CHANGE_WEIGHTS.values()))[0]
            table = self.rng.choice(tables)
            before = set(touched)
            made = getattr(self, f"_{kind}")(table, touched, tables)
            if made:
                ((_, column),) = touched - before
                record.append(("add" if kind == "add_column" else "alter", table.name, column))
                per_table.setdefault(table.name, []).extend(made)
                counts[kind] = counts.get(kind, 0) + 1
                done += 1
        result = []
        for name in sorted(per_table):  # autogenerate visits existing tables by name
            positions = {c.name: i for i, c in enumerate(self._table(name).columns)}
            per_table[name].sort(key=lambda op: _autogenerate_order(op, positions))
            result.append(ops.ModifyTableOps(name, per_table[name]))
        return result

    def _table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)

    def _candidates(
        self, table: TableSpec, touched: set[tuple[str, str]], *kinds: Kind
    ) -> list[ColumnSpec]:
        return [
            c
            for c in table.columns
            if not c.primary_key
            and (table.name, c.name) not in touched
            and (not kinds or c.kind in kinds)
        ]

    def _add_column(
        self, table: TableSpec, touched: set[tuple[str, str]], tables: list[TableSpec]
    ) -> list[ops.MigrateOperation]:
        taken = {c.name for c in table.columns}
        # Only tables created before this one: the foreign keys stay free of cycles.
        older = tables[: tables.index(table)]
        refs = [t.name for t in older if f"{t.name}_id" not in taken]
        if refs and self.rng.random() < 0.15:
            ref = self.rng.choice(refs)
            index = self.rng.random() < 0.5
            col = ColumnSpec(f"{ref}_id", "int", nullable=True, fk=ref, index=index)
        else:
            col = self._random_column(taken, new_table=False)
        table.columns.append(col)
        touched.add((table.name, col.name))
        made: list[ops.MigrateOperation] = [
            ops.AddColumnOp(table.name, col.column(with_constraints=False))
        ]
        if col.index:
            made.append(self._index_op(table, col))
        if col.unique:
            made.append(self._unique_op(table, col))
        if col.fk:
            made.append(
                ops.CreateForeignKeyOp(
                    conv(f"fk_{table.name}_{col.name}_{col.fk}"),
                    table.name,
                    col.fk,
                    [col.name],
                    ["id"],
                )
            )
        return made

    def _alter_type(
        self, table: TableSpec, touched: set[tuple[str, str]], _tables: list[TableSpec]
    ) -> list[ops.MigrateOperation]:
        candidates = [
            c
            for c in self._candidates(table, touched, "str", "int", "numeric")
            if not c.fk and not (c.kind == "str" and (c.length or 0) >= 1000)
        ]
        if not candidates:
            return []
        col = self.rng.choice(candidates)
        before = col.reflected_type()
        if col.kind == "str":
            plain = not (col.index or col.unique or col.name in table.unique_leads())
            if plain and self.rng.random() < 0.1:
                col.kind, col.length = "text", None
            else:
                assert col.length is not None
                col.length = self.rng.choice((col.length + 50, col.length * 2))
        elif col.kind == "int":
            col.kind = "bigint"
        else:
            assert col.precision is not None
            col.precision += 2
        touched.add((table.name, col.name))
        return [
            ops.AlterColumnOp(
                table.name,
                col.name,
                existing_type=before,
                modify_type=col.model_type(),
                existing_nullable=col.nullable,
                existing_server_default=col.reflected_default(),
            )
        ]

    def _alter_nullable(
        self, table: TableSpec, touched: set[tuple[str, str]], _tables: list[TableSpec]
    ) -> list[ops.MigrateOperation]:
        candidates = self._candidates(table, touched)
        if not candidates:
            return []
        col = self.rng.choice(candidates)
        col.nullable = not col.nullable
        touched.add((table.name, col.name))
        return [
            ops.AlterColumnOp(
                table.name,
                col.name,
                existing_type=col.reflected_type(),
                modify_nullable=col.nullable,
                existing_nullable=not col.nullable,
                existing_server_default=col.reflected_default(),
            )
        ]

    def _add_index(
        self, table: TableSpec, touched: set[tuple[str, str]], _tables: list[TableSpec]
    ) -> list[ops.MigrateOperation]:
        leads = table.unique_leads()
        candidates = [
            c
            for c in self._candidates(table, touched, "str", "int", "bigint", "datetime", "bool")
            if not c.index and c.name not in leads
        ]
        if not candidates:
            return []
        col = self.rng.choice(candidates)
        col.index = True
        touched.add((table.name, col.name))
        return [self._index_op(table, col)]

    def _add_unique(
        self, table: TableSpec, touched: set[tuple[str, str]], _tables: list[TableSpec]
    ) -> list[ops.MigrateOperation]:
        leads = table.unique_leads()
        candidates = [
            c
            for c in self._candidates(table, touched, "str", "int", "bigint")
            if not c.index and not c.fk and c.name not in leads
        ]
        if not candidates:
            return []
        col = self.rng.choice(candidates)
        col.unique = True
        touched.add((table.name, col.name))
        return [self._unique_op(table, col)]

    @staticmethod
    def _index_op(table: TableSpec, col: ColumnSpec) -> ops.CreateIndexOp:
        return ops.CreateIndexOp(conv(f"ix_{table.name}_{col.name}"), table.name, [col.name])

    @staticmethod
    def _unique_op(table: TableSpec, col: ColumnSpec) -> ops.CreateUniqueConstraintOp:
        return ops.CreateUniqueConstraintOp(
            conv(f"uq_{table.name}_{col.name}"), table.name, [col.name]
        )

    @staticmethod
    def _core_table(spec: TableSpec, metadata: sa.MetaData) -> sa.Table:
        columns = [c.column(with_constraints=True) for c in spec.columns]
        uniques = [sa.UniqueConstraint(*cols) for cols in spec.uniques]
        return sa.Table(spec.name, metadata, *columns, *uniques)


def _autogenerate_order(op: ops.MigrateOperation, positions: dict[str, int]) -> tuple[int, Any]:
    """Autogenerate's order within one table: new columns and alterations in column order,
    then indexes and unique constraints by name, then foreign keys."""
    if isinstance(op, ops.AddColumnOp):
        return (0, positions[op.column.name])
    if isinstance(op, ops.AlterColumnOp):
        return (1, positions[op.column_name])
    if isinstance(op, ops.CreateIndexOp):
        return (2, str(op.index_name))
    if isinstance(op, ops.CreateUniqueConstraintOp):
        return (2, str(op.constraint_name))
    return (3, str(getattr(op, "constraint_name", "")))


# -- writing the files -----------------------------------------------------------------------------


def name_migrations(migrations: list[Migration]) -> None:
    """Revision ids and messages by ``manage``'s own naming policy."""
    previous: list[str] = []
    for migration in migrations:
        operations = revisions.describe(migration.upgrade)
        slug = revisions.suggest_name(operations, initial=migration.number == 1)
        if slug.startswith("auto_"):  # deterministic: the migration's own date, not "now"
            slug = revisions.auto_name(migration.create_date)
        migration.revision = revisions.revision_id(revisions.next_number(previous), slug)
        assert len(migration.revision) <= revisions.MAX_REVISION_ID_LENGTH, migration.revision
        migration.message = slug.replace("_", " ").capitalize()
        previous.append(migration.revision)


def render_migration(migration: Migration, down_revision: str | None, template: Template) -> str:
    """The migration file, as Alembic's autogenerate fills the template for ``manage``."""
    # A SQLite context renders func.now() as (CURRENT_TIMESTAMP), as manage does for SQLite.
    context = MigrationContext.configure(dialect_name="sqlite")

    def render(container: ops.UpgradeOps | ops.DowngradeOps) -> str:
        return render_python_code(container, render_as_batch=True, migration_context=context)

    text: str = template.render_unicode(
        up_revision=migration.revision,
        down_revision=down_revision,
        branch_labels=None,
        depends_on=None,
        create_date=migration.create_date,
        comma=format_as_comma,
        message=migration.message,
        upgrades=render(migration.upgrade),
        # The reverse already drops tables last, after the changes that refer to them.
        downgrades=render(migration.upgrade.reverse()),
        imports="",  # every type the generator uses is rendered as sa.<Type>
    )
    return text


MODEL_TYPES: dict[Kind, Callable[[ColumnSpec], str]] = {
    "int": lambda c: "sa.Integer()",
    "bigint": lambda c: "sa.BigInteger()",
    "str": lambda c: f"sa.String({c.length})",
    "text": lambda c: "sa.Text()",
    "bool": lambda c: "sa.Boolean()",
    "datetime": lambda c: "sa.DateTime(timezone=True)",
    "numeric": lambda c: f"sa.Numeric({c.precision}, {c.scale})",
}


def render_models(tables: list[TableSpec]) -> str:
    lines = [
        '"""The benchmark models (generated by bench/generate.py): the state after the last',
        'migration."""',
        "",
        "from __future__ import annotations",
        "",
        "import datetime as dt",
        "from decimal import Decimal",
        "",
        "import sqlalchemy as sa",
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column",
        "",
        "NAMING_CONVENTION = {",
        *(f'    "{key}": "{value}",' for key, value in NAMING_CONVENTION.items()),
        "}",
        "",
        "",
        "class Base(DeclarativeBase):",
        "    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)",
    ]
    python_types = {
        "int": "int",
        "bigint": "int",
        "str": "str",
        "text": "str",
        "bool": "bool",
        "datetime": "dt.datetime",
        "numeric": "Decimal",
    }
    for spec in tables:
        lines += ["", "", f"class {class_name(spec.name)}(Base):"]
        lines.append(f'    __tablename__ = "{spec.name}"')
        if spec.uniques:
            constraints = ", ".join(
                "sa.UniqueConstraint({})".format(", ".join(f'"{c}"' for c in u))
                for u in spec.uniques
            )
            lines.append(f"    __table_args__ = ({constraints},)")
        lines.append("")
        for col in spec.columns:
            if col.primary_key:
                lines.append(f"    {col.name}: Mapped[int] = mapped_column(primary_key=True)")
                continue
            args = [f'sa.ForeignKey("{col.fk}.id")' if col.fk else MODEL_TYPES[col.kind](col)]
            if col.index:
                args.append("index=True")
            if col.unique:
                args.append("unique=True")
            if col.server_default == "now":
                args.append("server_default=sa.func.now()")
            elif col.server_default is not None:
                args.append(f'server_default="{col.server_default}"')
            annotation = python_types[col.kind] + (" | None" if col.nullable else "")
            line = f"    {col.name}: Mapped[{annotation}] = mapped_column({', '.join(args)})"
            if len(line) > 100:  # as ruff format wraps it
                line = (
                    f"    {col.name}: Mapped[{annotation}] = mapped_column(\n"
                    f"        {', '.join(args)}\n    )"
                )
            lines.append(line)
    return "\n".join(lines) + "\n"


ALEMBIC_INI = """\
# A plain Alembic project (generated by bench/generate.py), as `alembic init` lays it out.
[alembic]
script_location = %(here)s
prepend_sys_path = .
path_separator = os
sqlalchemy.url = sqlite:///db.sqlite3

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

ENV_PY = '''\
"""Alembic's generic env.py, pointed at the models; ``-x url=...`` overrides sqlalchemy.url."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

from benchapp.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata
url = context.get_x_argument(as_dictionary=True).get("url")
if url:
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=config.get_main_option("sqlalchemy.url", "").startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

MANAGE_PYPROJECT = """\
[project]
name = "benchapp"
version = "0.1.0"
description = "bench/generate.py: {tables} tables, {migrations} migrations, seed {seed}."
requires-python = ">=3.10"
dependencies = ["sqlalchemy-manage"]

[tool.manage]
models = "benchapp.models:Base"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

# The pytest plugin's cost (bench/run.py): a test asking for a migrated database and doing
# nothing else, and one asking for nothing, pytest's own cost.
MANAGE_TESTS = '''\
"""What a test session pays for its database: the plugin's fixture and nothing else."""


def test_migrated_database(migrated_database: object) -> None:
    assert migrated_database is not None


def test_nothing() -> None:
    pass
'''


def write_projects(project: Project, out: Path, *, tables: int, seed: int) -> None:
    if out.exists():
        shutil.rmtree(out)
    manage_dir, alembic_dir = out / "manage", out / "alembic"
    djangogen.write_project(project, out / "django")
    for package in (manage_dir / "benchapp", alembic_dir / "benchapp"):
        package.mkdir(parents=True)
        (package / "__init__.py").write_text('"""Generated benchmark app."""\n')
        (package / "models.py").write_text(render_models(project.tables))
    (manage_dir / "pyproject.toml").write_text(
        MANAGE_PYPROJECT.format(tables=tables, migrations=len(project.migrations), seed=seed)
    )
    (manage_dir / "tests").mkdir()
    (manage_dir / "tests" / "test_database.py").write_text(MANAGE_TESTS)
    (alembic_dir / "alembic.ini").write_text(ALEMBIC_INI)
    (alembic_dir / "env.py").write_text(ENV_PY)
    shutil.copyfile(TEMPLATE, alembic_dir / "script.py.mako")
    migrations_dir, versions_dir = manage_dir / "migrations", alembic_dir / "versions"
    migrations_dir.mkdir()
    versions_dir.mkdir()
    template = Template(filename=str(TEMPLATE))
    down: str | None = None
    for migration in project.migrations:
        text = render_migration(migration, down, template)
        for folder in (migrations_dir, versions_dir):
            (folder / f"{migration.revision}.py").write_text(text)
        down = migration.revision
    totals: dict[str, int] = {}
    for migration in project.migrations:
        for key, value in migration.counts.items():
            totals[key] = totals.get(key, 0) + value
    summary = {
        "tables": tables,
        "migrations": len(project.migrations),
        "seed": seed,
        "columns": sum(len(t.columns) for t in project.tables),
        "foreign_keys": sum(1 for t in project.tables for c in t.columns if c.fk),
        "indexes": sum(1 for t in project.tables for c in t.columns if c.index),
        "unique_constraints": sum(
            sum(1 for c in t.columns if c.unique) + len(t.uniques) for t in project.tables
        ),
        "operations": totals,
        "head": down,
    }
    (out / "spec.json").write_text(json.dumps(summary, indent=2) + "\n")


def generate(
    tables: int, migrations: int, seed: int, out: Path, *, models_at: int | None = None
) -> dict[str, Any]:
    """Build the spec and write the three projects; returns the summary in ``spec.json``."""
    project = Builder(tables, migrations, seed).build(models_at)
    name_migrations(project.migrations)
    write_projects(project, out, tables=tables, seed=seed)
    summary: dict[str, Any] = json.loads((out / "spec.json").read_text())
    return summary


# -- verification ----------------------------------------------------------------------------------


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@contextmanager
def fresh_database(project: Path, postgresql_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database (its URL), or the project's SQLite file deleted (None)."""
    if postgresql_url:
        with servers.server_database(postgresql_url) as url:
            yield url
    else:
        (project / "db.sqlite3").unlink(missing_ok=True)
        yield None


def verify(out: Path, *, postgresql_url: str | None = None) -> list[str]:
    """Apply every migration with each tool on a fresh database, then check that the models
    match (and, for Django, that its schema is the one manage built); returns the problems."""
    # A private cache: manage remembers replays and check answers, and this check must be cold.
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as cache:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        return _verify(out, postgresql_url, dict(env, XDG_CACHE_HOME=cache))


def _verify(out: Path, postgresql_url: str | None, clean_env: dict[str, str]) -> list[str]:
    problems: list[str] = []
    migrations = len(list((out / "manage" / "migrations").glob("*.py")))
    manage, alembic = str(VENV_BIN / "manage"), str(VENV_BIN / "alembic")
    manage_dir, alembic_dir, django_dir = out / "manage", out / "alembic", out / "django"
    django = [str(VENV_BIN / "python"), "manage.py"]

    def expect(label: str, result: tuple[int, str], text: str, count: int = 1) -> None:
        status, output = result
        if status != 0 or output.count(text) != count:
            problems.append(f"{label}: exit {status}, expected 0 and {count} x {text!r}:\n{output}")

    for server in [None, postgresql_url] if postgresql_url else [None]:
        where = "PostgreSQL" if server else "SQLite"
        with fresh_database(manage_dir, server) as url:
            env = dict(clean_env, DATABASE_URL=url) if url else clean_env
            # step by step: each migration's own run is what is verified (a fresh database is
            # otherwise fast-forwarded, which tests/corpus/test_fast_forward.py compares)
            applied = _run([manage, "migrate", "--step-by-step"], manage_dir, env)
            expect(f"manage migrate ({where})", applied, "... OK", migrations)
            check = _run([manage, "makemigrations", "--check"], manage_dir, env)
            expect(f"manage makemigrations --check ({where})", check, "No changes detected")
            if djangogen.installed():
                with fresh_database(django_dir, server) as django_url:
                    env = dict(clean_env, DATABASE_URL=django_url) if django_url else clean_env
                    applied = _run([*django, "migrate"], django_dir, env)
                    expect(f"django migrate ({where})", applied, "... OK", migrations)
                    check_args = [*django, "makemigrations", "--check", "--dry-run"]
                    check = _run(check_args, django_dir, env)
                    expect(f"django makemigrations --check ({where})", check, "No changes detected")
                    problems += [
                        f"Django and manage schemas ({where}): {difference}"
                        for difference in djangogen.schema_differences(
                            url or f"sqlite:///{manage_dir / 'db.sqlite3'}",
                            django_url or f"sqlite:///{django_dir / 'db.sqlite3'}",
                        )
                    ]
        with fresh_database(alembic_dir, server) as url:
            x = ["-x", f"url={url}"] if url else []
            upgraded = _run([alembic, *x, "upgrade", "head"], alembic_dir, clean_env)
            expect(f"alembic upgrade head ({where})", upgraded, "Running upgrade", migrations)
            check = _run([alembic, *x, "check"], alembic_dir, clean_env)
            expect(f"alembic check ({where})", check, "No new upgrade operations detected")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="replaced if it exists")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="then migrate and check each project on a fresh SQLite file (Django's if Django "
        "is installed, and compare its schema with manage's)",
    )
    parser.add_argument(
        "--postgresql",
        nargs="?",
        const=DEFAULT_POSTGRESQL_URL,
        metavar="SERVER_URL",
        help="with --verify, also on a fresh PostgreSQL database on this server "
        f"(default {DEFAULT_POSTGRESQL_URL})",
    )
    parser.add_argument(
        "--models-at",
        type=int,
        metavar="K",
        help="write the models as they stand after migration K instead of the last one "
        "(bench/fidelity.py compares migration K with what 'manage makemigrations' writes "
        "from them and migrations 1..K-1)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    summary = generate(args.tables, args.migrations, args.seed, args.out, models_at=args.models_at)
    elapsed = time.perf_counter() - start
    print(f"Generated {args.out} in {elapsed:.2f}s: {json.dumps(summary)}")
    if args.verify:
        start = time.perf_counter()
        problems = verify(args.out, postgresql_url=args.postgresql)
        elapsed = time.perf_counter() - start
        for problem in problems:
            print(f"FAILED {problem}", file=sys.stderr)
        if problems:
            return 1
        where = "SQLite" + (" and PostgreSQL" if args.postgresql else "")
        if djangogen.installed():
            tools = "manage, Alembic and Django"
            schema = " Django's schema is manage's."
        else:
            tools, schema = (
                "manage and Alembic",
                " Django is not installed: its project was not run.",
            )
        print(
            f"Verified on {where} in {elapsed:.1f}s: {tools} apply all {args.migrations} "
            f"migrations to a fresh database and then detect no changes.{schema}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
