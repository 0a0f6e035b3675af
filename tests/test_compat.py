"""Pins every private touch in ``manage/compat.py`` to the Alembic, SQLAlchemy, Typer and Mako
releases installed: each test calls the compat function on real objects and checks what manage
relies on. When a release removes or changes one, the failure names the function and the private
name, so the fix is one function in one module."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.operations import Operations, ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from manage import compat
from tests.test_private_touches import PACKAGE, _defined_by_manage, private_touches


@contextmanager
def pinned(what: str) -> Iterator[None]:
    """Turn a missing private name into a message naming manage's use of it."""
    try:
        yield
    except (AttributeError, ImportError, TypeError) as exc:
        pytest.fail(
            f"manage.compat.{what} relies on a private name the installed release no longer "
            f"has ({type(exc).__name__}: {exc}). Adapt manage/compat.py to this release.",
            pytrace=False,
        )


# What manage/compat.py touches, and the test below that pins each one.
PINNED = {
    "_runtime_param": "test_typer_coercion",
    "_load_revisions": "test_script_directory_steps",
    "_upgrade_revs": "test_script_directory_steps",
    "_downgrade_revs": "test_script_directory_steps",
    "_stamp_revs": "test_script_directory_steps",
    "_install_proxy": "test_op_proxy_and_recording_operations",
    "_remove_proxy": "test_op_proxy_and_recording_operations",
    "typer._click.core": "test_typer_click_classes",
    "mako.ext.pygmentplugin": "test_without_mako_pygments",
    "_reverse": "test_reverse_of",
    "_populate_migration_script": "test_use_inspector_and_populate_migration_script",
    "_render_modify_table": "test_renderers",
    "_alter_column": "test_renderers",
    "_render_server_default": "test_renderers",
    "_repr_type": "test_renderers",
    "_render_server_default_for_compare": "test_renderers",
    "_compare_identity_default": "test_compare_identity_default",
    "_type_affinity": "test_sqlalchemy_private_attributes",
    "_copy": "test_sqlalchemy_private_attributes",
    "_creation_order": "test_sqlalchemy_private_attributes",
    "_autoincrement_column": "test_sqlalchemy_private_attributes",
    "_prefixes": "test_sqlalchemy_private_attributes",
    "_type_bound": "test_sqlalchemy_private_attributes",
    "__dict__": "test_repair_unpickled_type_decorator",
    "_connection_cls": "test_use_connection_class",
    "method-assign": "test_op_proxy_and_recording_operations",
}


def test_every_touch_of_the_compat_module_is_pinned() -> None:
    source = (PACKAGE / "compat.py").read_text()
    found = private_touches(PACKAGE / "compat.py", source, _defined_by_manage())
    assert found, "the scan finds nothing in compat.py: it is broken"
    unpinned = [line for line in found if not any(name in line for name in PINNED)]
    assert unpinned == [], "add a pinning test for: " + ", ".join(unpinned)
    names = {
        node.name
        for node in ast.walk(ast.parse(Path(__file__).read_text()))
        if isinstance(node, ast.FunctionDef)
    }
    assert {test for test in PINNED.values()} <= names


def test_compat_imports_only_the_standard_library() -> None:
    probe = (
        "import sys, manage.compat; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic', 'typer', 'click', 'mako')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_typer_click_classes() -> None:
    with pinned("Command/Context/Parameter (typer._click.core)"):
        from typer._click.core import Command, Context, Parameter

    app = typer.Typer()
    app.command()(lambda: None)
    app.command("other")(lambda: None)
    command = typer.main.get_command(app)
    assert isinstance(command, Command)
    assert isinstance(Context(command), Context)
    assert all(isinstance(p, Parameter) for p in command.params)


def test_typer_coercion() -> None:
    app = typer.Typer()

    @app.command()
    def hello(name: str = "x", count: int = 1) -> None:
        typer.echo(f"{name} {count}")

    command = typer.main.get_command(app)
    params = [p for p in command.params if p.name in ("name", "count")]
    assert len(params) == 2

    class Fixed:
        def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
            return "fixed"

    ctx = typer.Context(command)
    with pinned("typer_coercion_unset/set_typer_coercion (TyperOption._runtime_param)"):
        for param in params:
            assert compat.typer_coercion_unset(param)
            compat.set_typer_coercion(param, Fixed())
            assert not compat.typer_coercion_unset(param)
            assert param.process_value(ctx, "5") == "fixed"
            compat.set_typer_coercion(param, None)
            assert compat.typer_coercion_unset(param)
            assert param.process_value(ctx, "5") in ("5", 5)  # Typer's own coercion again
            assert not compat.typer_coercion_unset(param)  # Typer built it


def test_without_mako_pygments() -> None:
    probe = (
        "import sys; from manage.compat import without_mako_pygments; without_mako_pygments(); "
        "import alembic.command, mako.exceptions; "
        "print('pygments' in sys.modules, mako.exceptions.html_error_template() is not None)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, (
        f"manage.compat.without_mako_pygments: Mako no longer takes its fallback when "
        f"mako.ext.pygmentplugin cannot be imported: {done.stderr}"
    )
    assert done.stdout.split() == ["False", "True"]


def _script_directory(tmp_path: Path) -> ScriptDirectory:
    versions = tmp_path / "migrations"
    versions.mkdir()
    for number, down in ((1, None), (2, "0001")):
        (versions / f"000{number}_x.py").write_text(
            f"revision = '000{number}'\ndown_revision = {down!r}\nbranch_labels = None\n"
            "depends_on = None\ndef upgrade():\n    pass\ndef downgrade():\n    pass\n"
        )
    config = Config()
    config.set_main_option("script_location", str(versions))
    config.set_main_option("version_locations", str(versions))
    return ScriptDirectory(str(versions), version_locations=[str(versions)])


def test_script_directory_steps(tmp_path: Path) -> None:
    script = _script_directory(tmp_path)
    with pinned("load_revisions/upgrade_revs/downgrade_revs/stamp_revs (ScriptDirectory._*)"):
        assert sorted(s.revision for s in compat.load_revisions(script)) == ["0001", "0002"]
        up = compat.upgrade_revs(script, "head", ())
        assert [step.revision.revision for step in up] == ["0001", "0002"]
        down = compat.downgrade_revs(script, "base", ("0002",))
        assert [step.revision.revision for step in down] == ["0002", "0001"]
        stamps = compat.stamp_revs(script, "0001", ())
        assert [step.to_revisions for step in stamps] == [("0001",)]


def _offline_context() -> MigrationContext:
    return MigrationContext.configure(
        dialect_name="sqlite", opts={"as_sql": True, "output_buffer": io.StringIO()}
    )


def test_op_proxy_and_recording_operations() -> None:
    from alembic import op

    context = _offline_context()
    recorded: list[ops.MigrateOperation] = []
    tables: list[tuple[str, str | None]] = []

    def batch_impl(table: str, schema: str | None) -> Any:
        tables.append((table, schema))
        return type("Impl", (), {"table_name": table, "schema": schema})()

    with pinned(
        "op_proxy/recording_operations/replace_get_bind (Operations._install_proxy, instance patch)"
    ):
        operations = compat.recording_operations(context, recorded.append, batch_impl)
        compat.without_autocommit_block(context)
        compat.replace_get_bind(operations, lambda: "the bind")
        with compat.op_proxy(operations):
            assert op.get_bind() == "the bind"
            op.add_column("book", sa.Column("price", sa.Integer()))
            with op.batch_alter_table("author") as batch:
                batch.drop_column("age")
            with op.get_context().autocommit_block():
                pass
        with pytest.raises(AttributeError):  # the proxy is removed afterwards
            op.add_column("book", sa.Column("x", sa.Integer()))
    assert [type(item).__name__ for item in recorded] == ["AddColumnOp", "DropColumnOp"]
    assert tables == [("author", None)]
    assert context.as_sql and isinstance(operations, Operations)


def test_reverse_of() -> None:
    table = sa.Table("book", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    with pinned("reverse_of (DropTableOp/DropColumnOp/DropConstraintOp._reverse)"):
        drop = ops.DropTableOp.from_table(table)
        assert isinstance(compat.reverse_of(drop), ops.CreateTableOp)
        column = ops.DropColumnOp.from_column_and_tablename(None, "book", table.c.id)
        assert isinstance(compat.reverse_of(column), ops.AddColumnOp)
        unique = sa.UniqueConstraint(table.c.id, name="uq")
        constraint = ops.DropConstraintOp.from_constraint(unique)
        assert isinstance(compat.reverse_of(constraint), ops.CreateUniqueConstraintOp)


def _autogen(metadata: sa.MetaData) -> AutogenContext:
    return AutogenContext(_offline_context(), metadata=metadata, autogenerate=False)


def test_use_inspector_and_populate_migration_script(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/db.sqlite3")
    models = sa.MetaData()
    sa.Table("book", models, sa.Column("id", sa.Integer, primary_key=True))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        autogen = AutogenContext(context, metadata=models)
        inspector = sa.inspect(connection)
        script = ops.MigrationScript(
            rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([])
        )
        with pinned("use_inspector/populate_migration_script (AutogenContext.inspector)"):
            compat.use_inspector(autogen, inspector)
            assert autogen.inspector is inspector
            compat.populate_migration_script(autogen, script)
    assert [type(o).__name__ for o in script.upgrade_ops_list[-1].ops] == ["CreateTableOp"]


def test_renderers() -> None:
    autogen = _autogen(sa.MetaData())
    autogen.opts.update(
        sqlalchemy_module_prefix="sa.", alembic_module_prefix="op.", render_as_batch=True
    )
    autogen.imports = set()
    alter = ops.AlterColumnOp("book", "price", modify_nullable=False)
    batch = ops.ModifyTableOps("book", [alter])
    default = sa.DefaultClause(sa.text("0"))
    with pinned("render_* (alembic.autogenerate.render._*, compare.server_defaults._*)"):
        assert compat.render_alter_column(autogen, alter).startswith("op.alter_column('book'")
        lines = compat.render_modify_table(autogen, batch)
        assert lines[0] == "with op.batch_alter_table('book', schema=None) as batch_op:"
        assert compat.render_server_default(default, autogen) == "sa.text('0')"
        assert compat.render_type(sa.String(13), autogen) == "sa.String(length=13)"
        assert compat.render_server_default_for_compare(default, autogen) == "0"


def test_compare_identity_default() -> None:
    impl = _offline_context().impl
    with pinned("compare_identity_default (DefaultImpl._compare_identity_default)"):
        diff, _ignored, is_alter = compat.compare_identity_default(
            impl, sa.Identity(start=1), sa.Identity(start=5)
        )
        assert "start" in diff and is_alter
        same = compat.compare_identity_default(impl, sa.Identity(), sa.Identity())
        assert not same[0]


def test_sqlalchemy_private_attributes() -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "book",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(20)),
        sa.Column("kind", sa.Enum("a", "b", name="kind", create_constraint=True)),
        prefixes=["TEMPORARY"],
    )
    first = sa.UniqueConstraint(table.c.title, name="a")
    second = sa.UniqueConstraint(table.c.id, name="b")
    counted = sa.MetaData()  # a standalone sequence and a column's
    sa.Sequence("a_seq", metadata=counted)
    sa.Table("t", counted, sa.Column("n", sa.Integer, sa.Sequence("b_seq")))
    checks: dict[str, Callable[[], object]] = {
        "type_affinity (TypeEngine._type_affinity)": lambda: (
            compat.type_affinity(sa.String(20)) is sa.String
            and compat.type_affinity(sa.Unicode(5)) is sa.String
        ),
        "column_copy (Column._copy)": lambda: (
            (copy := compat.column_copy(table.c.title)) is not table.c.title
            and copy.table is None
            and copy.name == "title"
        ),
        "creation_order (SchemaItem._creation_order)": lambda: (
            compat.creation_order(first) < compat.creation_order(second)
        ),
        "is_autoincrement_column (Table._autoincrement_column)": lambda: (
            compat.is_autoincrement_column(table, table.c.id)
            and not compat.is_autoincrement_column(table, table.c.title)
        ),
        "table_prefixes (Table._prefixes)": lambda: compat.table_prefixes(table) == ["TEMPORARY"],
        "is_type_bound (CheckConstraint._type_bound)": lambda: (
            any(compat.is_type_bound(c) for c in table.constraints)
            and not compat.is_type_bound(sa.CheckConstraint("id > 0"))
        ),
        "metadata_sequences (MetaData._sequences)": lambda: (
            sorted(str(s.name) for s in compat.metadata_sequences(counted)) == ["a_seq", "b_seq"]
        ),
        "detached_check (CheckConstraint(_autoattach=False))": lambda: (
            (loose := sa.Table("loose", sa.MetaData(), sa.Column("n", sa.Integer))) is not None
            and compat.detached_check(loose.c.n > 0, "ck") not in loose.constraints
            and sa.CheckConstraint(loose.c.n > 0) in loose.constraints  # what it avoids
        ),
        "batch_column_order (sqlalchemy.util.topological.sort)": lambda: (
            compat.batch_column_order([("id", "title"), ("note", "code")], ["id", "title", "code"])
            == ["id", "code", "title"]  # Alembic's order once "note" is dropped
        ),
    }
    for what, check in checks.items():
        with pinned(what):
            assert check(), f"manage.compat.{what} no longer behaves as manage relies on"


def test_deferred_dialect_imports() -> None:
    """A check of a SQLite project leaves Alembic's other dialects unimported until used; the
    full check then imports them as always (a fresh interpreter: imports are process-wide)."""
    probe = (
        "import sys\n"
        "from manage import compat\n"
        "compat.defer_unused_dialect_imports('sqlite')\n"
        "import alembic.operations\n"
        "postgresql = sys.modules['alembic.ddl.postgresql']\n"
        "print(compat.not_yet_loaded(postgresql),"
        " 'sqlalchemy.dialects.postgresql' in sys.modules)\n"
        "print(compat.not_yet_loaded(sys.modules['alembic.ddl.sqlite']))\n"
        "compat.load_deferred()\n"
        "from alembic.ddl.impl import _impls\n"
        "print(compat.not_yet_loaded(postgresql), *sorted(_impls))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, (
        "manage.compat.defer_unused_dialect_imports/not_yet_loaded (importlib.util.LazyLoader, "
        f"its _LazyModule type) no longer work: {done.stderr}"
    )
    first, second, third = done.stdout.splitlines()
    assert first == "True False"
    assert second == "False"
    assert third == "False default mariadb mssql mysql oracle postgresql sqlite"


def test_repair_unpickled_type_decorator() -> None:
    class Wrapped(sa.types.TypeDecorator[str]):
        impl = sa.String(10)
        cache_ok = True

    type_ = Wrapped()
    with pinned("repair_unpickled_type_decorator (TypeDecorator.impl_instance, memoized)"):
        type_.__dict__["impl_instance"] = sa.String  # what unpickling can leave behind
        compat.repair_unpickled_type_decorator(type_)
        assert isinstance(type_.impl_instance, sa.String)
        compat.repair_unpickled_type_decorator(type_)  # a real instance stays
        assert isinstance(type_.impl_instance, sa.String)


def test_use_connection_class() -> None:
    ran: list[str] = []

    class Watched(sa.engine.Connection):
        def _run_ddl_visitor(self, *args: Any, **kwargs: Any) -> None:
            ran.append("ddl")
            super()._run_ddl_visitor(*args, **kwargs)

    engine = sa.create_engine("sqlite://")
    with pinned("use_connection_class (Engine._connection_cls, Connection._run_ddl_visitor)"):
        compat.use_connection_class(engine, Watched)
        with engine.connect() as connection:
            assert type(connection) is Watched
            sa.MetaData().create_all(connection)
    assert ran == ["ddl"]
