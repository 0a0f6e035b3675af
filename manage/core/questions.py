"""The questions makemigrations asks (renames, one-off defaults) and how the answers rewrite the
detected operations. The asking is injected (Django's questioner): core never prompts."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from manage.compat import column_copy, render_type, reverse_of, type_affinity
from manage.errors import MigrationError
from manage.light.render import needs_a_value


@dataclass(frozen=True, slots=True)
class DefaultQuestion:
    """A NOT NULL column without a server default is added to a table that may have rows."""

    table: str
    column: str
    type: str
    """The column's SQL type on the project's dialect, e.g. ``VARCHAR(13)``."""

    @property
    def key(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True, slots=True)
class Questioner:
    """Answers makemigrations' questions.

    Args:
        renames: given answers, ``{"book.title": "book.name"}`` for columns, ``{"author":
            "writer"}`` for tables (``--rename``).
        defaults: given one-off defaults, ``{"book.isbn": "'unknown'"}`` (``--default``).
        confirm: asks a yes/no question (``Was book.title renamed to ...? [y/N]``); None when
            nothing may be asked (``--no-input``): a rename not given is a drop and an add.
        ask_default: asks for a one-off default; returns it, or None to quit. None when nothing
            may be asked: a needed default that was not given is an error naming ``--default``.
    """

    renames: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    confirm: Callable[[str], bool] | None = None
    ask_default: Callable[[DefaultQuestion], str | None] | None = None


class FillColumnOp(ops.MigrateOperation):
    """Set a one-off default on the rows a NOT NULL column is added to, before NOT NULL holds."""

    def __init__(
        self,
        table_name: str,
        column_name: str,
        value: str,
        schema: str | None,
        type_: TypeEngine[Any] | None = None,
    ) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.value = value
        self.schema = schema
        self.type = type_


@renderers.dispatch_for(FillColumnOp)
def _render_fill(context: AutogenContext, op: FillColumnOp) -> str:
    # The UPDATE must render offline too (sqlmigrate, migrate --sql: literal binds), and an
    # untyped value has no literal renderer. A literal of the column's Python type takes the
    # column's type, as the model writes it; another (the text '2024-01-01' for a Date) keeps
    # the type of its own value, so it reaches the database as given, as before.
    literal = python_literal(op.value)
    column = repr(op.column_name)
    if literal is _NOT_LITERAL:
        value = f"sa.text({op.value!r})"
    elif literal is None:
        value = "None"
    elif op.type is not None and _fits(literal, op.type):
        value = repr(literal)
        column += f", {render_type(op.type, context)}"
    else:
        value = f"sa.literal({literal!r})"
    schema = f", schema={op.schema!r}" if op.schema else ""
    table = f"sa.table({op.table_name!r}, sa.column({column}){schema})"
    return f"op.execute({table}.update().values({{{op.column_name!r}: {value}}}))"


def _fits(literal: Any, type_: TypeEngine[Any]) -> bool:
    """Whether ``literal`` is a value of ``type_``'s Python type (a bool is no number here)."""
    try:
        python_type = type_.python_type
    except NotImplementedError:  # e.g. NullType, or a user type that does not say
        return False
    if isinstance(literal, bool) and python_type is not bool:
        return False
    return isinstance(literal, python_type)


@renderers.dispatch_for(ops.RenameTableOp)
def _render_rename_table(_context: AutogenContext, op: ops.RenameTableOp) -> str:
    # Alembic can run rename_table but has no autogenerate renderer for it.
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"op.rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"


class EnforceNotNullOp(ops.AlterColumnOp):
    """The NOT NULL that follows a fill; rendered as Alembic's ``alter_column``."""


_NOT_LITERAL = object()


def python_literal(value: str) -> Any:
    """The Python literal ``value`` spells (``'unknown'``, ``0``, ``True``), or ``_NOT_LITERAL``
    when it is SQL (``CURRENT_TIMESTAMP``, ``upper(title)``)."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_LITERAL


def ask(script: ops.MigrationScript, questioner: Questioner, dialect: Dialect) -> list[str]:
    """Ask about the operations of ``script`` and rewrite them by the answers.

    Returns:
        One line per answer, for the migration's docstring.

    Raises:
        MigrationError: an answer is needed and cannot be asked, the user quit, or a given
            answer matches no question.
    """
    answers: list[str] = []
    used: set[str] = set()
    upgrade, downgrade = script.upgrade_ops_list[0], script.downgrade_ops_list[0]
    for dropped, created in _table_pairs(upgrade):
        old, new = dropped.table_name, created.table_name
        if _answer_rename(questioner, old, new, used, None):
            _rename_table_first(upgrade, dropped, created, old, new)
            back_drop = _find_op(downgrade, ops.DropTableOp, new)
            back_create = _find_op(downgrade, ops.CreateTableOp, old)
            if back_drop is not None and back_create is not None:
                _rename_table_first(downgrade, back_drop, back_create, new, old)
            answers.append(_answered("table", old, new))
    candidates: dict[str, str] = {}
    for drop, add in _column_pairs(upgrade, dialect, questioner.renames):
        table, old, new = add.table_name, drop.column_name, add.column.name
        candidates[f"{table}.{new}"] = f"{table}.{old}"
        type_ = str(add.column.type.compile(dialect=dialect))
        if _answer_rename(questioner, f"{table}.{old}", f"{table}.{new}", used, type_):
            rename = _rename_column(table, old, add.column, drop)
            _replace_pair(upgrade, drop, add, rename)
            _own_batch_first(upgrade, rename)
            back_drop = _find_op(downgrade, ops.DropColumnOp, table, new)
            back_add = _find_op(downgrade, ops.AddColumnOp, table, old)
            if back_drop is not None and back_add is not None:
                back = _rename_column(table, new, back_add.column, back_drop)
                _replace_pair(downgrade, back_drop, back_add, back)
                _own_batch_first(downgrade, back)
            answers.append(_answered("column", f"{table}.{old}", f"{table}.{new}"))
    while adds := _not_null_adds(upgrade):  # each fill splits a batch: look again
        container, add = adds[0]
        type_ = str(add.column.type.compile(dialect=dialect))
        question = DefaultQuestion(add.table_name, add.column.name, type_)
        value = _answer_default(questioner, question, used, candidates.get(question.key))
        _fill_then_enforce(upgrade, container, add, value)
        flag = f"--default {question.key}={_shell_quote(value)}"
        answers.append(f"{question.key}: existing rows set to {value} ({flag})")
    unused = [f"--rename {k}={v}" for k, v in questioner.renames.items() if k not in used]
    unused += [f"--default {k}=..." for k in questioner.defaults if k not in used]
    if unused:
        raise MigrationError(
            f"{unused[0]} answers no question: makemigrations found no such dropped and added "
            "column or table, nor such a new NOT NULL column. Check the names (table.column), "
            "or leave the option out."
        )
    return answers


def _answered(kind: str, old: str, new: str) -> str:
    what = "table " if kind == "table" else ""
    return f"{what}{old} was renamed to {new} (--rename {old}={new})"


def _shell_quote(value: str) -> str:
    return f'"{value}"' if any(c in value for c in " '()") else value


def _answer_rename(
    questioner: Questioner, old: str, new: str, used: set[str], type_: str | None
) -> bool:
    if old in questioner.renames:
        if questioner.renames[old] != new:
            return False
        used.add(old)
        return True
    if questioner.confirm is None:
        return False
    if type_ is None:
        return questioner.confirm(f"Was table {old} renamed to {new}?")
    return questioner.confirm(f"Was {old} renamed to {new} (a {type_})?")


def _answer_default(
    questioner: Questioner, question: DefaultQuestion, used: set[str], renamed_from: str | None
) -> str:
    if question.key in questioner.defaults:
        used.add(question.key)
        return questioner.defaults[question.key]
    fix = (
        f"add server_default=... or make {question.key} nullable in the models, or give a one-off "
        f"default for the existing rows with --default {question.key}=VALUE (a Python literal "
        "such as \"'unknown'\" or 0, or SQL such as CURRENT_TIMESTAMP)"
    )
    if questioner.ask_default is None:
        rename = (
            f" If {question.key} is {renamed_from} renamed, say so with "
            f"--rename {renamed_from}={question.key} instead."
            if renamed_from
            else ""
        )
        raise MigrationError(f"{needs_a_value(question.key, question.table)}: {fix}.{rename}")
    value = questioner.ask_default(question)
    if value is None:
        raise MigrationError(f"No migration written. To add {question.key}, {fix}.")
    return value


def _walk(container: ops.OpContainer) -> Iterator[tuple[ops.OpContainer, ops.MigrateOperation]]:
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            yield from _walk(op)
        else:
            yield container, op


def _find_op(
    container: ops.OpContainer, kind: type[Any], table: str, column: str | None = None
) -> Any:
    for _parent, op in _walk(container):
        if not isinstance(op, kind) or op.table_name != table:
            continue
        name = (
            op.column.name if isinstance(op, ops.AddColumnOp) else getattr(op, "column_name", None)
        )
        if column is None or name == column:
            return op
    return None


def _replace_pair(
    container: ops.OpContainer,
    drop: ops.MigrateOperation,
    add: ops.MigrateOperation,
    by: ops.MigrateOperation,
) -> None:
    """``by`` takes the place of ``add``; ``drop`` goes."""
    for parent, op in list(_walk(container)):
        if op is add:
            parent.ops[parent.ops.index(op)] = by
        elif op is drop:
            parent.ops.remove(op)
    _prune(container)


def _rename_table_first(
    container: ops.OpContainer,
    drop: ops.DropTableOp,
    create: ops.CreateTableOp,
    old: str,
    new: str,
) -> None:
    """Replace ``drop`` and ``create`` by a rename that runs before every other operation, and
    point what was left on the old table (its index drops) at the new name: after the rename
    the old name is gone, and foreign keys and indexes created later may name the new one."""
    rename = ops.RenameTableOp(old, new, schema=drop.schema)
    _replace_pair(container, drop, create, rename)
    container.ops.remove(rename)
    container.ops.insert(0, rename)
    for parent, op in _walk(container):
        if getattr(op, "table_name", None) == old and op is not rename:
            op.table_name = new  # type: ignore[attr-defined]
        if getattr(parent, "table_name", None) == old:
            parent.table_name = new  # type: ignore[attr-defined]
    _drop_repointed_foreign_keys(container, old, new)


def _drop_repointed_foreign_keys(container: ops.OpContainer, old: str, new: str) -> None:
    """Leave out dropping a foreign key to ``old`` and creating it again to ``new``: every
    database points foreign keys at a renamed table itself (SQLite since 3.26), and an unnamed
    one could not be dropped by name on SQLite."""
    drops = [
        (parent, op)
        for parent, op in _walk(container)
        if isinstance(op, ops.DropConstraintOp)
        and op.constraint_type == "foreignkey"
        and isinstance(reverse_of(op), ops.CreateForeignKeyOp)
        and reverse_of(op).referent_table == old
    ]
    for drop_parent, drop in drops:
        before = reverse_of(drop)
        assert isinstance(before, ops.CreateForeignKeyOp)
        for parent, op in _walk(container):
            if (
                isinstance(op, ops.CreateForeignKeyOp)
                and op.referent_table == new
                and op.source_table == drop.table_name
                and list(op.local_cols) == list(before.local_cols)
                and list(op.remote_cols) == list(before.remote_cols)
                and _options(op.kw) == _options(before.kw)
            ):
                drop_parent.ops.remove(drop)
                parent.ops.remove(op)
                break
    _prune(container)


def _options(kw: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kw.items() if value is not None}


def _own_batch_first(container: ops.OpContainer, rename: ops.AlterColumnOp) -> None:
    """Give a column rename a batch of its own, before the other operations on its table:
    SQLite's batch mode cannot rename a column and drop or create its indexes in one go."""
    for position, parent in enumerate(container.ops):
        if isinstance(parent, ops.ModifyTableOps) and rename in parent.ops:
            if len(parent.ops) == 1:
                return
            parent.ops.remove(rename)
            alone = ops.ModifyTableOps(parent.table_name, [rename], schema=parent.schema)
            container.ops.insert(position, alone)
            return


def _prune(container: ops.OpContainer) -> None:
    container.ops = [
        op for op in container.ops if not (isinstance(op, ops.OpContainer) and op.is_empty())
    ]
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            _prune(op)


def _table_pairs(upgrade: ops.OpContainer) -> list[tuple[ops.DropTableOp, ops.CreateTableOp]]:
    drops = [op for op in upgrade.ops if isinstance(op, ops.DropTableOp)]
    creates = [op for op in upgrade.ops if isinstance(op, ops.CreateTableOp)]
    pairs = []
    for drop in drops:
        shape = _shape(drop.to_table().columns)
        for create in creates:
            if create.schema == drop.schema and _shape(create.columns) == shape:
                pairs.append((drop, create))
                creates.remove(create)
                break
    return pairs


def _shape(columns: Any) -> list[tuple[str, str]]:
    return sorted(
        (c.name, type_affinity(c.type).__name__) for c in columns if isinstance(c, Column)
    )


def _column_pairs(
    upgrade: ops.OpContainer, dialect: Dialect, renames: Mapping[str, str]
) -> list[tuple[ops.DropColumnOp, ops.AddColumnOp]]:
    """Each dropped column with an added one of its type on its table: the one ``renames``
    names for it if any (two added columns may share the type), else the first."""
    pairs = []
    drops = [op for _p, op in _walk(upgrade) if isinstance(op, ops.DropColumnOp)]
    adds = [op for _p, op in _walk(upgrade) if isinstance(op, ops.AddColumnOp)]
    for drop in drops:
        old_type = drop.to_column().type
        named = renames.get(f"{drop.table_name}.{drop.column_name}")
        ordered = sorted(adds, key=lambda a: f"{a.table_name}.{a.column.name}" != named)
        for add in ordered:
            if add.table_name != drop.table_name or add.schema != drop.schema:
                continue
            if _same_type(old_type, add.column.type, dialect):
                pairs.append((drop, add))
                adds.remove(add)
                break
    return pairs


def _same_type(old: Any, new: Any, dialect: Dialect) -> bool:
    try:
        return bool(old.compile(dialect=dialect) == new.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot render: compare what it stores
        return bool(type_affinity(old) is type_affinity(new))


def _rename_column(
    table: str, old: str, column: Column[Any], drop: ops.DropColumnOp
) -> ops.AlterColumnOp:
    before = drop.to_column()
    nullable = None if before.nullable == column.nullable else column.nullable
    return ops.AlterColumnOp(
        table,
        old,
        schema=drop.schema,
        existing_type=column.type,
        existing_nullable=before.nullable,
        existing_server_default=before.server_default or False,
        modify_nullable=nullable,
        modify_name=column.name,
    )


def _not_null_adds(upgrade: ops.OpContainer) -> list[tuple[ops.OpContainer, ops.AddColumnOp]]:
    return [
        (parent, op)
        for parent, op in _walk(upgrade)
        if isinstance(op, ops.AddColumnOp)
        and not op.column.nullable
        and op.column.server_default is None
        and not op.column.primary_key
    ]


def _fill_then_enforce(
    upgrade: ops.OpContainer, container: ops.OpContainer, add: ops.AddColumnOp, value: str
) -> None:
    """Add the column nullable, fill the rows, then make it NOT NULL: three steps, and in batch
    mode three batches, since a batch runs its operations only when it ends."""
    column = column_copy(add.column)  # the model's own Column stays as it is
    column.nullable = True
    add.column = column
    fill = FillColumnOp(add.table_name, column.name, value, add.schema, column.type)
    enforce = EnforceNotNullOp(
        add.table_name,
        column.name,
        schema=add.schema,
        existing_type=column.type,
        existing_nullable=True,
        modify_nullable=False,
    )
    index = container.ops.index(add)
    if container is upgrade:
        container.ops[index + 1 : index + 1] = [fill, enforce]
        return
    before, after = container.ops[: index + 1], container.ops[index + 1 :]
    table = getattr(container, "table_name", add.table_name)
    schema = getattr(container, "schema", add.schema)
    position = upgrade.ops.index(container)
    upgrade.ops[position : position + 1] = [
        ops.ModifyTableOps(table, before, schema=schema),
        fill,
        ops.ModifyTableOps(table, [enforce, *after], schema=schema),
    ]
