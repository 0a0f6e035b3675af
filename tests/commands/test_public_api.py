"""``manage.commands`` is the Python API: it exports every command function of the registry and
every dataclass their results hold; ``manage.core`` says it is private."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import manage.commands
import manage.core
from manage.registry import BUILTINS


def _dataclasses_in(annotation: object, seen: set[type]) -> None:
    for argument in typing.get_args(annotation):
        _dataclasses_in(argument, seen)
    is_new = isinstance(annotation, type) and annotation not in seen
    if is_new and dataclasses.is_dataclass(annotation):
        seen.add(annotation)
        for hint in typing.get_type_hints(annotation).values():
            _dataclasses_in(hint, seen)


def test_every_result_type_is_exported_by_manage_commands() -> None:
    results: set[type] = set()
    for entry in BUILTINS.values():
        function = entry.load()
        returned = inspect.signature(function).return_annotation  # a string: lazy annotations
        _dataclasses_in(eval(returned, inspect.unwrap(function).__globals__), results)

    exported = {getattr(manage.commands, name) for name in manage.commands.__all__}
    missing = {f"{cls.__module__}.{cls.__qualname__}" for cls in results - exported}
    assert missing == set()
    assert {"MigrateResult", "Step", "Operation", "InitResult"} <= set(manage.commands.__all__)
    assert len(results) >= 12  # the walk reaches the results' own types (Step, Operation...)


def test_every_built_in_function_is_exported_by_manage_commands() -> None:
    for entry in BUILTINS.values():
        assert getattr(manage.commands, entry.name) is entry.load()
        assert inspect.isfunction(entry.load())


def test_manage_core_says_it_is_private() -> None:
    assert manage.core.__doc__ is not None
    assert "private" in manage.core.__doc__.lower()
