"""When each round opened and when its tool responses were acknowledged, as the platform sees it.

The round trip of an answered round runs from the moment the simulator starts sending the round's
``awaiting_tool_calls`` delivery (its first POST, after the task's earlier deliveries went out) to the moment it
accepts that round's ``send_tool_responses`` (the reply is ready to go out). Both clocks are this process's
``time.monotonic``. ``GET /_control/round_trips`` (``app.simulator.control``) serves them; ``bench/roundtrip.py``
reads them. At most ``KEEP`` of each are kept: the oldest go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from app.protocol import AWAITING, RunStatus

KEEP = 10_000
"""Round trips (and rounds still open) kept at most."""


@dataclass(frozen=True)
class RoundTrip:
    """One answered round: ``ms`` from its delivery's first POST to the accepted ``send_tool_responses``."""

    task_id: int
    round: int
    ms: float


class RoundTiming:
    """Records ``sending`` (a delivery's first POST starts) and ``acknowledged`` (tool responses accepted)."""

    def __init__(self) -> None:
        self._opened: OrderedDict[tuple[int, int], float] = OrderedDict()
        self.trips: deque[RoundTrip] = deque(maxlen=KEEP)

    def sending(self, status: RunStatus) -> None:
        """A delivery of ``status`` is about to be POSTed for the first time; only rounds opening count, and a
        duplicate or a retry keeps the first moment."""
        if status.status != AWAITING or status.round is None:
            return
        key = (status.task_id, status.round)
        if key not in self._opened:
            self._opened[key] = time.monotonic()
            while len(self._opened) > KEEP:
                self._opened.popitem(last=False)

    def acknowledged(self, task_id: int, round_number: int) -> None:
        """The round's ``send_tool_responses`` was accepted (not a replay); a round whose opening was not seen
        (a delivery sent before a restart) is not counted."""
        opened = self._opened.pop((task_id, round_number), None)
        if opened is not None:
            self.trips.append(RoundTrip(task_id, round_number, (time.monotonic() - opened) * 1000))
