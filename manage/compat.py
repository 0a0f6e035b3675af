"""Every private touch of Alembic, SQLAlchemy, Typer (its vendored Click) and Mako, in one place.

Each function here names one private attribute, import or patch that manage relies on, and
``tests/test_compat.py`` pins each one: a release that removes or changes it fails there, with a
message naming the function, instead of somewhere deep in a command.
``tests/test_private_touches.py`` fails when such a touch appears anywhere else in ``manage/``.

This module is top-level, not ``manage/core/``, because the Typer part serves ``manage.cli``
(core may not import Typer) and the Mako part the launcher (which must not import SQLAlchemy).
So it imports only the standard library when loaded; each third-party module is imported by the
function that needs it, when it is called.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations import BatchOperations, Operations, ops
    from alembic.runtime.migration import MigrationContext, RevisionStep
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import Column, Table
    from sqlalchemy.types import TypeEngine

    # Typer >= 0.26 vendors Click as typer._click: the classes Typer's group hands manage.cli.
    from typer._click.core import Command as Command
    from typer._click.core import Context as Context
    from typer._click.core import Parameter as Parameter

# --- Typer ------------------------------------------------------------------------------------


def typer_coercion_unset(param: Any) -> bool:
    """Whether Typer has not built the coercion of ``param`` yet (``TyperOption._runtime_param``
    is None until ``get_runtime_param()`` builds a pydantic adapter)."""
    return getattr(param, "_runtime_param", False) is None and hasattr(param, "get_runtime_param")


def set_typer_coercion(param: Any, coercion: Any) -> None:
    """Make Typer use ``coercion`` for ``param``; None lets Typer build its own on next use."""
    param._runtime_param = coercion


# --- Mako -------------------------------------------------------------------------------------


def without_mako_pygments() -> None:
    """Make Mako take its no-Pygments fallback: its ``mako.ext.pygmentplugin`` import fails."""
    if "mako.exceptions" not in sys.modules:
        sys.modules.setdefault("mako.ext.pygmentplugin", None)  # type: ignore[arg-type]


# --- Imports a check does not need -------------------------------------------------------------

# Alembic's ``alembic.ddl`` imports every dialect's implementation (PostgreSQL's pulls in all of
# SQLAlchemy's PostgreSQL dialect), and SQLAlchemy's dialect packages import their asyncio
# drivers (and so asyncio): a third of Alembic's import time, for dialects a check never uses.
_ALEMBIC_IMPLS = {
    "mssql": "alembic.ddl.mssql",
    "mysql": "alembic.ddl.mysql",
    "mariadb": "alembic.ddl.mysql",
    "oracle": "alembic.ddl.oracle",
    "postgresql": "alembic.ddl.postgresql",
}
_ASYNC_DRIVERS = (
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.dialects.mysql.aiomysql",
    "sqlalchemy.dialects.mysql.asyncmy",
)
_deferred: set[str] = set()


class _Deferring:
    """A meta path finder that hands out the modules in ``_deferred`` as
    ``importlib.util.LazyLoader`` modules: executed on first attribute access."""

    @classmethod
    def find_spec(cls, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _deferred:
            return None
        import importlib.util

        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def defer_unused_dialect_imports(dialect_name: str) -> None:
    """Load Alembic's implementations of other dialects than ``dialect_name``, and SQLAlchemy's
    asyncio drivers, only when something uses them (``importlib.util.LazyLoader``). Modules
    already imported are left alone; :func:`load_deferred` loads the rest (before anything
    beyond the check's cached path runs)."""
    own = _ALEMBIC_IMPLS.get(dialect_name)
    names = {name for name in (*_ALEMBIC_IMPLS.values(), *_ASYNC_DRIVERS) if name != own}
    _deferred.update(name for name in names if name not in sys.modules)
    if _Deferring not in sys.meta_path:
        sys.meta_path.insert(0, _Deferring)


def not_yet_loaded(module: object) -> bool:
    """Whether ``module`` is a deferred module that nothing has used (so it never ran, and
    reading any attribute of it would run it): ``importlib.util``'s private lazy module type."""
    kind = type(module)
    return kind.__name__ == "_LazyModule" and kind.__module__ == "importlib.util"


def load_deferred() -> None:
    """Import now what :func:`defer_unused_dialect_imports` deferred, as without it."""
    if _Deferring in sys.meta_path:
        sys.meta_path.remove(_Deferring)
    for name in sorted(_deferred):
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, "__name__", None)  # a lazy module runs on its first attribute
    _deferred.clear()


# --- Alembic: the script directory ------------------------------------------------------------


def load_revisions(script: ScriptDirectory) -> Iterator[Script]:
    """Every migration file of ``script``, imported (``ScriptDirectory._load_revisions``): the
    public ``walk_revisions`` also resolves the graph, which fails on what manage reports itself."""
    return script._load_revisions()


def upgrade_revs(script: ScriptDirectory, target: str, heads: Any) -> list[RevisionStep]:
    """The steps of ``alembic upgrade target`` from ``heads`` (what ``command.upgrade`` runs)."""
    return script._upgrade_revs(target, heads)


def downgrade_revs(script: ScriptDirectory, target: str, heads: Any) -> list[RevisionStep]:
    """The steps of ``alembic downgrade target`` from ``heads``."""
    return script._downgrade_revs(target, heads)


def stamp_revs(script: ScriptDirectory, target: str, heads: Any) -> Sequence[Any]:
    """The steps of ``alembic stamp target`` from ``heads`` (``--fake``)."""
    return script._stamp_revs(target, heads)


# --- Alembic: operations ----------------------------------------------------------------------


@contextmanager
def op_proxy(operations: Operations) -> Iterator[None]:
    """``from alembic import op`` answers from ``operations`` while the block runs (what
    ``EnvironmentContext`` does around a migration, without running one)."""
    operations._install_proxy()
    try:
        yield
    finally:
        operations._remove_proxy()


def recording_operations(
    context: MigrationContext,
    invoke: Callable[[ops.MigrateOperation], None],
    batch_impl: Callable[[str, str | None], Any],
) -> Operations:
    """Operations that hand each operation a migration issues to ``invoke`` instead of running
    it, in ``batch_alter_table`` too (whose impl ``batch_impl(table, schema)`` builds). Alembic's
    ``op`` proxy is keyed by class, so the instance is patched, not subclassed."""
    from alembic.operations import BatchOperations, Operations

    operations = Operations(context)

    @contextmanager
    def batch_alter_table(
        table_name: str, schema: str | None = None, **_kw: Any
    ) -> Iterator[BatchOperations]:
        batch = BatchOperations(context, impl=batch_impl(table_name, schema))
        batch.invoke = invoke  # type: ignore[method-assign, assignment]
        yield batch

    operations.invoke = invoke  # type: ignore[method-assign, assignment]
    operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign, assignment]
    return operations


def replace_get_bind(operations: Operations, get_bind: Callable[[], Any]) -> None:
    """``op.get_bind()`` answers ``get_bind()`` while ``operations`` is the proxy's target."""
    operations.get_bind = get_bind  # type: ignore[method-assign]


def without_autocommit_block(context: MigrationContext, depth: list[int] | None = None) -> None:
    """``op.get_context().autocommit_block()`` does nothing on ``context`` (a recorder's) but
    count, in ``depth[0]`` when given, how many such blocks are open (the lint's question)."""

    @contextmanager
    def autocommit_block() -> Iterator[None]:
        if depth is not None:
            depth[0] += 1
        try:
            yield
        finally:
            if depth is not None:
                depth[0] -= 1

    context.autocommit_block = autocommit_block  # type: ignore[method-assign]


def reverse_of(op: ops.MigrateOperation) -> Any:
    """What a drop operation was built from (``DropTableOp``/``DropColumnOp``/
    ``DropConstraintOp._reverse``: the create operation), or None."""
    return getattr(op, "_reverse", None)


# --- Alembic: autogenerate --------------------------------------------------------------------


def use_inspector(autogen: AutogenContext, inspector: Any) -> None:
    """Make autogenerate reflect through ``inspector`` instead of a connection
    (``AutogenContext.inspector`` is a memoized property over ``connection``)."""
    autogen.connection = inspector
    autogen.__dict__["inspector"] = inspector


def populate_migration_script(autogen: AutogenContext, script: ops.MigrationScript) -> None:
    """Fill ``script``'s upgrade operations by comparing (``compare._populate_migration_script``:
    ``produce_migrations`` without its own AutogenContext, which would need a connection)."""
    from alembic.autogenerate import compare

    compare._populate_migration_script(autogen, script)


def render_modify_table(autogen: AutogenContext, op: ops.ModifyTableOps) -> list[str]:
    """Alembic's rendering of a ``batch_alter_table`` block (``render._render_modify_table``)."""
    from alembic.autogenerate import render

    lines: list[str] = render._render_modify_table(autogen, op)
    return lines


def render_alter_column(autogen: AutogenContext, op: ops.AlterColumnOp) -> str:
    """Alembic's rendering of an ``alter_column`` (``render._alter_column``)."""
    from alembic.autogenerate import render

    text: str = render._alter_column(autogen, op)
    return text


def render_type(type_: Any, autogen: AutogenContext) -> str:
    """A column type as Alembic renders it in an operation, imports included
    (``render._repr_type``)."""
    from alembic.autogenerate import render

    return str(render._repr_type(type_, autogen))


def render_server_default(default: Any, autogen: AutogenContext) -> str:
    """A server default as Alembic renders it in an operation
    (``render._render_server_default``)."""
    from alembic.autogenerate import render

    return str(render._render_server_default(default, autogen))


def render_server_default_for_compare(default: Any, autogen: AutogenContext) -> str | None:
    """A server default as Alembic's comparator renders it before comparing
    (``compare.server_defaults._render_server_default_for_compare``)."""
    from alembic.autogenerate.compare import server_defaults

    rendered: str | None = server_defaults._render_server_default_for_compare(default, autogen)
    return rendered


def compare_identity_default(impl: Any, metadata: Any, inspected: Any) -> tuple[Any, Any, bool]:
    """Alembic's comparison of two ``Identity`` options (``DefaultImpl._compare_identity_default``):
    the differing attributes, the ignored ones, and whether it is an alteration."""
    result: tuple[Any, Any, bool] = impl._compare_identity_default(metadata, inspected)
    return result


# --- SQLAlchemy -------------------------------------------------------------------------------


def type_affinity(type_: TypeEngine[Any]) -> Any:
    """The generic type ``type_`` stores as (``TypeEngine._type_affinity``: a class)."""
    return type_._type_affinity


def column_copy(column: Column[Any]) -> Column[Any]:
    """A copy of ``column`` not attached to any table (``Column._copy``)."""
    return column._copy()


def creation_order(item: Any) -> int:
    """The order in which schema items were made (``_creation_order``, set on construction)."""
    order: int = item._creation_order
    return order


def is_autoincrement_column(table: Table, column: Column[Any]) -> bool:
    """Whether ``column`` is the column ``table`` autoincrements
    (``Table._autoincrement_column``)."""
    return table._autoincrement_column is column


def table_prefixes(table: Table) -> list[str]:
    """``Table(..., prefixes=[...])`` as given (``Table._prefixes``): ``TEMPORARY`` and the like."""
    return list(table._prefixes)


def repair_unpickled_type_decorator(type_: Any) -> None:
    """Forget a ``TypeDecorator``'s memoized ``impl_instance`` when unpickling left the ``impl``
    class there instead of an instance (SQLAlchemy 2.1): it is built again on first use."""
    if isinstance(type_.__dict__.get("impl_instance"), type):
        del type_.__dict__["impl_instance"]


def use_connection_class(engine: Any, connection_class: type) -> None:
    """Make ``engine.connect()`` build ``connection_class``, a ``Connection`` subclass
    (``Engine._connection_cls``): a data step's SQLite stand-in (core/replay/data_steps.py)
    watches what the step reads of it, and overrides ``Connection._run_ddl_visitor``, through
    which SQLAlchemy runs every ``create()``/``drop()`` (SQLite skips some without a word)."""
    engine._connection_cls = connection_class


def is_type_bound(constraint: Any) -> bool:
    """Whether a CHECK constraint belongs to its type (Enum's or Boolean's: ``_type_bound``)."""
    return bool(getattr(constraint, "_type_bound", False))


def metadata_sequences(metadata: Any) -> list[Any]:
    """Every ``Sequence`` of ``metadata``: standalone ones (``Sequence(..., metadata=)``) and the
    columns' (``MetaData._sequences``; SQLAlchemy lists them nowhere public)."""
    return list(getattr(metadata, "_sequences", {}).values())


def detached_check(sqltext: Any, name: Any) -> Any:
    """A copy of a CHECK constraint that does not attach itself to the table of the columns its
    expression names (``CheckConstraint(_autoattach=False)``): the replay places it itself."""
    from sqlalchemy import CheckConstraint

    return CheckConstraint(sqltext, name=name, _autoattach=False)


def batch_column_order(pairs: list[tuple[str, str]], names: list[str]) -> list[str]:
    """``names`` sorted as Alembic's batch sorts a copied table's columns: each after the one
    each pair puts it after (``sqlalchemy.util.topological.sort``, deterministic)."""
    from sqlalchemy.util import topological

    return list(topological.sort(pairs, names, deterministic_order=True))
