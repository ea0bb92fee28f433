"""NiceGUI's ``expects_arguments``, remembered per function (``app.ui.element_speed``): the same answers as
NiceGUI's own for every kind of callable, nothing kept for functions that are gone, and in place in the console."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import helpers

from app.ui import element_speed


class _Thing:
    def no_args(self) -> None: ...

    def one_arg(self, event: object) -> None: ...

    def with_default(self, event: object = None) -> None: ...

    def variadic(self, *args: object, **kwargs: object) -> None: ...

    @classmethod
    def of_class(cls, event: object) -> None: ...

    @staticmethod
    def static(event: object) -> None: ...

    def __call__(self, event: object) -> None: ...


def _plain_none() -> None: ...


def _plain_one(event: object) -> None: ...


async def _async_one(event: object) -> None: ...


def _only_variadic(*args: object) -> None: ...


@functools.wraps(_plain_one)
def _wrapper(*args: object, **kwargs: object) -> None: ...


CALLABLES: list[tuple[str, Callable[..., Any]]] = [
    ("plain, no arguments", _plain_none),
    ("plain, one argument", _plain_one),
    ("async, one argument", _async_one),
    ("only *args", _only_variadic),
    ("functools.wraps wrapper", _wrapper),
    ("lambda, none", lambda: None),
    ("lambda, one", lambda e: None),
    ("lambda, default", lambda e=None: None),
    ("bound, none", _Thing().no_args),
    ("bound, one", _Thing().one_arg),
    ("bound, default", _Thing().with_default),
    ("bound, variadic", _Thing().variadic),
    ("classmethod", _Thing.of_class),
    ("staticmethod", _Thing.static),
    ("unbound function of a class", _Thing.one_arg),
    ("callable object", _Thing()),
    ("partial, filled", functools.partial(_plain_one, 1)),
    ("partial, open", functools.partial(_Thing.one_arg, _Thing())),
    ("builtin", print),
    ("class", _Thing),
]


@pytest.mark.parametrize(("name", "func"), CALLABLES, ids=[name for name, _ in CALLABLES])
def test_same_answer_as_nicegui_asked_twice(name: str, func: Callable[..., Any]):
    expected = element_speed._original(func)
    assert element_speed.expects_arguments(func) is expected
    assert element_speed.expects_arguments(func) is expected  # the remembered answer


def test_a_function_bound_and_plain_are_told_apart():
    thing = _Thing()
    assert element_speed.expects_arguments(_Thing.one_arg) is True  # self and event
    assert element_speed.expects_arguments(thing.no_args) is False  # self bound: nothing left
    assert element_speed.expects_arguments(_Thing.no_args) is True  # self not bound
    assert element_speed.expects_arguments(_Thing().no_args) is False


def test_functions_that_are_gone_are_not_kept():
    gc.collect()
    before = len(element_speed._plain)
    for n in range(500):
        element_speed.expects_arguments(eval(f"lambda e{n}: None"))  # a new function object each time
    gc.collect()
    assert len(element_speed._plain) <= before + 1


async def test_the_console_uses_it(user):  # the NiceGUI user fixture builds the console (app/main.py)
    await user.open("/")
    assert helpers.expects_arguments is element_speed.expects_arguments
