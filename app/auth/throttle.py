"""Slowing down repeated failed sign-ins, per name and per address (OWASP Authentication Cheat Sheet, "Login
Throttling"): after ``FREE_FAILURES`` failures within ``WINDOW`` seconds, each further attempt for that name or from
that address must wait ``2 ** (failures - FREE_FAILURES)`` seconds after the last failure, up to ``MAX_WAIT``.

An attempt is counted as failed when it starts (``start``), and taken back when its password was right
(``succeeded``): the password check takes a thread and tens of milliseconds (Argon2), and attempts sent side by side
(many tabs, a script's clicks) would otherwise all pass the check of the failures before any of them is counted."""

from __future__ import annotations

import time
from collections import defaultdict

FREE_FAILURES = 2
WINDOW = 900.0
MAX_WAIT = 300.0


class SignInThrottle:
    """Failed sign-ins in memory (a restart forgets them); keys are ``name:<name>`` and ``address:<ip>``."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = defaultdict(list)

    def wait(self, *, name: str, address: str, now: float | None = None) -> float:
        """Seconds to wait before the next attempt for ``name`` from ``address`` is tried (0: go ahead)."""
        now = time.time() if now is None else now
        return max(self._wait(key, now) for key in _keys(name, address))

    def start(self, *, name: str, address: str, now: float | None = None) -> tuple[float, float]:
        """Before checking a password: ``(wait, started)``. ``wait`` > 0: seconds to wait, nothing is counted.
        Else the attempt counts as failed from ``started`` (a ``time.time()``) until ``succeeded`` takes it back."""
        now = time.time() if now is None else now
        wait = self.wait(name=name, address=address, now=now)
        if wait <= 0:
            self.failed(name=name, address=address, now=now)
        return wait, now

    def failed(self, *, name: str, address: str, now: float | None = None) -> None:
        """Count one failed attempt against the name and the address."""
        now = time.time() if now is None else now
        for key in _keys(name, address):
            self._failures[key] = [t for t in self._failures[key] if now - t < WINDOW] + [now]

    def succeeded(self, *, name: str, address: str, started: float) -> None:
        """Forget the name's failures; the address keeps its own, but for the attempt ``start`` counted at
        ``started`` (the one that succeeded)."""
        self._failures.pop(f"name:{name.lower()}", None)
        times = self._failures.get(f"address:{address}", [])
        if started in times:
            times.remove(started)

    def _wait(self, key: str, now: float) -> float:
        recent = [t for t in self._failures.get(key, []) if now - t < WINDOW]
        if len(recent) <= FREE_FAILURES:
            return 0.0
        delay = min(2.0 ** (len(recent) - FREE_FAILURES), MAX_WAIT)
        return max(0.0, recent[-1] + delay - now)


def _keys(name: str, address: str) -> tuple[str, str]:
    return f"name:{name.lower()}", f"address:{address}"
