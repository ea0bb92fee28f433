"""The HTTP stack's own per-request work stays small: httpcore (under httpx) asks which async library runs on
every request, and without ``sniffio`` installed each ask retries a failing import that searches ``sys.path``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from httpcore import _synchronization


class _Sought:
    """A finder first on ``sys.meta_path`` that only records the names looked for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(name)
        return None


async def test_naming_the_async_library_searches_for_no_module():
    _synchronization.current_async_library()  # the first call may import what it needs
    sought = _Sought()
    sys.meta_path.insert(0, sought)
    try:
        for _ in range(3):
            assert _synchronization.current_async_library() == "asyncio"
    finally:
        sys.meta_path.remove(sought)
    assert sought.names == [], f"httpcore looked for {sought.names} on each call: is sniffio installed?"
