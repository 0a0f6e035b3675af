"""An Inspector over a replayed state, so Alembic compares the models with it as with a database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Column, Enum, MetaData, String, Table, UniqueConstraint
from sqlalchemy.engine import Dialect, Inspector, make_url
from sqlalchemy.schema import DefaultClause

from manage.compat import populate_migration_script, use_inspector
from manage.core.compare_plugin import options_with, schema_options, simple_key_parts
from manage.core.defaults import enum_values_changed
from manage.core.replay.state import SchemaState, _mysql_name, _name, is_expression
from manage.core.runnable import constraint_name


class StateInspector(Inspector):
    """An Inspector that answers from a SchemaState instead of a database.

    Alembic (1.14+) hands SQLAlchemy's ``reflect_table`` a complete reflection record built from
    these ``get_*`` methods, so SQLAlchemy itself builds the "reflected" tables and Alembic's
    comparators run unchanged; nothing connects anywhere.
    """

    _op_context_requires_connect = False
    in_memory = True  # read by core/compare_plugin.py

    def __init__(self, state: SchemaState, dialect: Dialect) -> None:  # no super(): no bind
        self.state = state
        self.dialect = dialect
        self.bind = self  # type: ignore[assignment]
        self.engine = None  # type: ignore[assignment]
        self.info_cache = {}

    def schema_for_object(self, obj: Any) -> str | None:
        return getattr(obj, "schema", None)

    def _schema(self, schema: str | None) -> str | None:
        """None for the connection's default schema, which a database also reports as None."""
        return None if schema == self.dialect.default_schema_name else schema

    def _table(self, name: str, schema: str | None) -> Table:
        for table in self.state.metadata.tables.values():
            if table.name == name and self._schema(table.schema) == self._schema(schema):
                return table
        return self.state.table(name, schema)

    def has_table(self, table_name: str, schema: str | None = None, **_kw: Any) -> bool:
        return table_name in self.get_table_names(schema)

    def has_index(
        self, table_name: str, index_name: str, schema: str | None = None, **_kw: Any
    ) -> bool:
        return any(i["name"] == index_name for i in self.get_indexes(table_name, schema))

    def get_schema_names(self, **_kw: Any) -> list[str]:
        # issue 16: the schemas that hold tables (include_schemas)
        return sorted({str(t.schema) for t in self.state.metadata.tables.values() if t.schema})

    def get_table_names(self, schema: str | None = None, **_kw: Any) -> list[str]:
        wanted = self._schema(schema)
        return sorted(
            t.name for t in self.state.metadata.tables.values() if self._schema(t.schema) == wanted
        )

    def get_view_names(self, schema: str | None = None, **_kw: Any) -> list[str]:
        return []

    def get_sequence_names(self, schema: str | None = None, **_kw: Any) -> list[str]:
        wanted = self._schema(schema)
        return sorted(n for s, n in self.state.sequences if self._schema(s) == wanted)

    def sequence_ddl(self, name: str, schema: str | None = None) -> str | None:
        """The ``CREATE SEQUENCE`` statement the migrations created ``name`` with (its options)."""
        for (kind, in_schema, found), statement in self.state.bound_ddl.items():
            same_schema = self._schema(in_schema) == self._schema(schema)
            if kind == "SEQUENCE" and found == name.lower() and same_schema:
                return statement
        return None

    def get_columns(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        table = self._table(table_name, schema)
        return [
            {
                "name": column.name,
                "type": _reflected_type(column.type, self.dialect),
                "nullable": bool(column.nullable),
                "default": _default_text(column, self.dialect),
                "autoincrement": column.autoincrement,
                "comment": column.comment,
                # issue 16: a generated column reflects as one
                **(
                    {"computed": {"sqltext": str(column.computed.sqltext)}}
                    if column.computed is not None
                    else {}
                ),
            }
            for column in table.columns
        ]

    def get_pk_constraint(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        key = self._table(table_name, schema).primary_key
        return {"constrained_columns": [c.name for c in key.columns], "name": _name(key.name)}

    def get_foreign_keys(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        result = []
        for fk in self._table(table_name, schema).foreign_key_constraints:
            target = fk.elements[0].target_fullname.split(".")
            options = {
                k: v
                for k, v in (
                    ("ondelete", fk.ondelete),
                    ("onupdate", fk.onupdate),
                    ("deferrable", fk.deferrable),
                    ("initially", fk.initially),
                )
                if v is not None
            }
            result.append(
                {
                    "name": _name(fk.name),
                    "constrained_columns": [c.name for c in fk.columns],
                    "referred_schema": self._schema(target[0]) if len(target) == 3 else None,
                    "referred_table": target[-2],
                    "referred_columns": [e.target_fullname.split(".")[-1] for e in fk.elements],
                    "options": options,
                }
            )
        return result

    def get_indexes(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        table = self._table(table_name, schema)
        indexes: list[dict[str, Any]] = []
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            parts = simple_key_parts(index.expressions)
            entry: dict[str, Any] = {
                "name": _name(index.name),
                "column_names": [name for name, _ in parts or []],
                "unique": bool(index.unique),
            }
            if parts is not None:
                # PostgreSQL's reflection reports the order; SQLite's and MySQL's drop it, and
                # compare_plugin.reflect_index_order adds it back.
                descending = {name: ("desc",) for name, desc in parts if desc}
                if descending:
                    entry["column_sorting"] = descending
            else:
                elements: list[Any] = list(index.expressions)
                if self.dialect.name != "postgresql":
                    continue  # SQLAlchemy reflects no expression index there (it warns)
                entry["column_names"] = [None if is_expression(e) else e.name for e in elements]
                entry["expressions"] = [str(e) if is_expression(e) else e.name for e in elements]
            indexes.append(entry)
        # Reflection shapes differ: MySQL keeps a unique constraint as a unique index, and
        # indexes a foreign key's columns itself; PostgreSQL lists a unique constraint's index too.
        if self.dialect.name in ("mysql", "mariadb", "postgresql"):
            for unique in self._uniques(table):
                entry = {"name": unique["name"], "column_names": unique["column_names"]}
                if self.dialect.name == "postgresql":
                    entry["duplicates_constraint"] = unique["name"]
                indexes.append({**entry, "unique": True})
        if self.dialect.name in ("mysql", "mariadb"):
            covered: list[list[str]] = [ix["column_names"] for ix in indexes]
            for fk in table.foreign_key_constraints:
                columns = [c.name for c in fk.columns]
                if not any(c[: len(columns)] == columns for c in covered):
                    name = _name(fk.name) or columns[0]
                    indexes.append({"name": name, "column_names": columns, "unique": False})
                    covered.append(columns)
        return indexes

    def _uniques(self, table: Table) -> list[dict[str, Any]]:
        """The unique constraints, an unnamed one named as the server names it."""
        uniques = []
        taken = {str(index.name) for index in table.indexes if index.name is not None}
        taken |= {str(u.name) for u in table.constraints if u.name is not None}
        for u in table.constraints:
            if not isinstance(u, UniqueConstraint):
                continue
            columns = [c.name for c in u.columns]
            name = _name(u.name)
            if name is None and self.dialect.name == "postgresql":
                name = constraint_name(table.name, columns, "key")
            elif name is None and self.dialect.name in ("mysql", "mariadb") and columns:
                name = _mysql_name(columns[0], taken)  # MySQL: the first column's name
                taken.add(name)
            uniques.append({"name": name, "column_names": columns})
        return uniques

    def get_unique_constraints(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        uniques = self._uniques(self._table(table_name, schema))
        if self.dialect.name in ("mysql", "mariadb"):
            return [{**u, "duplicates_index": u["name"]} for u in uniques]
        return uniques

    def get_check_constraints(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        return [
            {"name": _name(c.name), "sqltext": str(c.sqltext)}
            for c in self._table(table_name, schema).constraints
            if isinstance(c, CheckConstraint)
        ]

    def get_table_comment(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        return {"text": self._table(table_name, schema).comment}

    def get_table_options(self, table_name: str, schema: str | None = None, **_kw: Any) -> Any:
        return {}


class StateBind(StateInspector):
    """What ``op.get_bind()`` is in the in-memory replay: ``sa.inspect(bind)`` (an Inspector
    inspects as itself) answers from the schema replayed so far, the same schema a database
    would hold at that point, so a migration that looks before it acts (``if "users" not in
    inspector.get_table_names()``) replays; everything else (``bind.dialect``, a type's
    ``create(bind)``, ``bind.execute(...)``) is Alembic's offline connection, and reading rows
    fails as before."""

    def __init__(self, state: SchemaState, dialect: Dialect, offline: Any) -> None:
        super().__init__(state, dialect)
        self._offline = offline

    def __getattr__(self, name: str) -> Any:
        return getattr(self._offline, name)


STATE_KEY = "manage_replayed_state"
"""Where a data step's SQLite connection (core/replay/data_steps.py) keeps the replayed state."""
DIALECT_KEY = "manage_project_dialect"
"""Where it keeps the project's dialect when that is not SQLite (PostgreSQL, MariaDB)."""


class LiveStateInspector(StateInspector):
    """``sa.inspect()`` of a data step's SQLite connection: built by SQLAlchemy itself (the
    dialect names this class), it answers from the state the connection carries."""

    @property
    def dialect(self) -> Dialect:
        # It answers as the project's database would (PostgreSQL's shapes on a PostgreSQL project).
        bind: Any = self.bind
        found: Dialect = bind.info.get(DIALECT_KEY, self._own_dialect)
        return found

    @dialect.setter
    def dialect(self, value: Dialect) -> None:
        self._own_dialect = value

    def __getattr__(self, name: str) -> Any:
        # SQLAlchemy builds it with Inspector's own init (bind, dialect): the state comes later.
        if name == "state":
            bind: Any = self.bind
            return bind.info[STATE_KEY]
        raise AttributeError(name)


def _multi(key: str) -> Callable[..., Any]:
    """``get_multi_<key>``: the per-table ``get_<key>`` for every table asked for."""

    def get_multi(
        self: StateInspector,
        schema: str | None = None,
        filter_names: Sequence[str] | None = None,
        **_kw: Any,
    ) -> Any:
        per_table = getattr(self, f"get_{key}")
        names = filter_names if filter_names is not None else self.get_table_names(schema)
        return {(schema, name): per_table(name, schema) for name in names}

    # Alembic asks the dialect whether it overrides a method by the method's name.
    get_multi.__name__ = get_multi.__qualname__ = f"get_multi_{key}"
    return get_multi


# Alembic pre-caches reflection through these (looked up by name), one per kind of information.
for _key in (
    "columns",
    "pk_constraint",
    "foreign_keys",
    "indexes",
    "unique_constraints",
    "check_constraints",
    "table_comment",
    "table_options",
):
    setattr(StateInspector, f"get_multi_{_key}", _multi(_key))


def _reflected_type(type_: Any, dialect: Dialect) -> Any:
    """``type_`` as the database reports it: an enum that is not native there (SQLite) is a
    VARCHAR as long as its longest value, so its values are not compared, as on a database."""
    if isinstance(type_, Enum) and not (dialect.supports_native_enum and type_.native_enum):
        return String(type_.length)
    return type_


def _default_text(column: Column[Any], dialect: Dialect) -> str | None:
    default = column.server_default
    if default is None or not isinstance(default, DefaultClause):
        return None
    arg = default.arg
    if isinstance(arg, str):
        # The text itself, as the database gets it: a str-based enum member (a history's
        # ``server_default=Status.draft``) would otherwise read as "Status.draft".
        return str.__str__(arg)
    return str(arg.compile(dialect=dialect))


# The schema a new connection starts in; MySQL/MariaDB: the URL's database.
_DEFAULT_SCHEMAS = {"postgresql": "public", "sqlite": "main"}


def compare(
    state: SchemaState,
    metadata: MetaData | tuple[MetaData, ...],
    *,
    url: str,
    include_object: Callable[..., bool] | None,
    version_table: str,
    skip: frozenset[str] = frozenset(),
    plugins: tuple[str, ...] = (),
) -> ops.UpgradeOps:
    """What autogenerate would write, comparing ``metadata`` with ``state``, not a database.

    ``skip`` names tables known to match: they are left out on both sides.
    """
    opts: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": enum_values_changed,
        "include_object": include_object,
        "version_table": version_table,
        **options_with(plugins),
    }
    if skip:

        def include_name(name: str | None, type_: str, _parents: Any) -> bool:
            return not (type_ == "table" and name in skip)

        def include_unskipped(
            obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
        ) -> bool:
            if type_ == "table" and name in skip:
                return False
            return include_object is None or include_object(obj, name, type_, reflected, compare_to)

        opts.update(include_name=include_name, include_object=include_unskipped)
    opts.update(schema_options(metadata, opts.get("include_name")))  # issue 16
    context = MigrationContext.configure(url=make_url(url), opts=opts)
    # What a connection would set: tables in it are reported without a schema.
    context.dialect.default_schema_name = _DEFAULT_SCHEMAS.get(
        context.dialect.name, make_url(url).database
    )
    autogen = AutogenContext(context, metadata=metadata)
    inspector = StateInspector(state, context.dialect)
    use_inspector(autogen, inspector)
    script = ops.MigrationScript(
        rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([])
    )
    populate_migration_script(autogen, script)
    return script.upgrade_ops_list[-1]
