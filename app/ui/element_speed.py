"""NiceGUI's ``expects_arguments``, remembered per function.

NiceGUI (3.18) decides whether a change handler takes arguments with ``inspect.signature``, three times for every
element it builds: its ``classes``, ``style`` and ``props`` each register the same bound method ``_update``
(``nicegui/observables.py``; upstream moved the call from every change to registration in zauberzeug/nicegui#6108,
but still pays it once per element). A light Inbox card of 12 elements spent about a third of its build there, and
every open Inbox builds a card for each new round on the webhook's event loop (issue 10). A function's answer never
changes, so ``install`` swaps in a version that asks ``inspect.signature`` once per function and bound-or-not, and
hands every other callable (a ``functools.partial``, a callable object, a builtin) to NiceGUI's own as before.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from typing import Any

from nicegui import helpers

_original: Callable[[Callable[..., Any]], bool] = helpers.expects_arguments
_plain: weakref.WeakKeyDictionary[types.FunctionType, bool] = weakref.WeakKeyDictionary()
_bound: weakref.WeakKeyDictionary[types.FunctionType, bool] = weakref.WeakKeyDictionary()


def expects_arguments(func: Callable[..., Any]) -> bool:
    """NiceGUI's ``helpers.expects_arguments(func)``: whether ``func`` has a parameter without a default that is
    not ``*args`` or ``**kwargs``; the same answer, computed once per plain function and once per function bound
    to an object (any object: ``self`` is the parameter binding drops)."""
    if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
        known, target = _bound, func.__func__
    elif isinstance(func, types.FunctionType):
        known, target = _plain, func
    else:
        return _original(func)
    answer = known.get(target)
    if answer is None:
        answer = known[target] = _original(func)
    return answer


def install() -> None:
    """Put ``expects_arguments`` in NiceGUI's place (``nicegui.helpers``, where its modules look it up at each
    call); again is harmless."""
    helpers.expects_arguments = expects_arguments
