"""Faults the simulator makes on purpose, to show that a receiver loses nothing and applies nothing twice.

Set per simulator with ``POST /_control/faults`` (``/sim/_control/faults`` in the console; only the fields
sent change) or the standalone simulator's options (``python -m app.simulator --duplicate 0.3 ...``);
``GET /_control/faults`` shows the settings and how often each fault was made so far.

Webhook deliveries (each state change is decided once, at random; ``seed`` makes it repeatable):

- ``duplicate`` (share, 0..1): the delivery is sent twice with the same ``webhook-id`` and body, each signed
  with its own timestamp; ``concurrent_duplicates`` (share of those) sends both copies at the same moment,
  the others send the copy right after the first was answered (contract: "a delivery can arrive twice,
  concurrently").
- ``reorder`` (share): the delivery waits until the task's next state change has been delivered, at most
  ``reorder_hold`` seconds (a run waiting on a round has no next change until the round is answered, and a
  terminal status never has one), so a later ``sequence`` arrives first ("late, or after a newer one").
- ``delay`` (share): the delivery waits ``delay_seconds`` before its first attempt; the task's later ones
  wait behind it.
- ``drop`` (share): the first attempt is lost before it reaches the receiver (recorded as an attempt with no
  answer) and the retry schedule sends it again ("no answer ... is retried").

Platform API:

- ``unavailable_tool_responses`` (count): the next N ``send_tool_responses`` answer 503 ``unavailable``.
- ``unavailable_for`` (seconds from now): every ``send_tool_responses`` answers 503 ``unavailable``.
- ``down_for`` (seconds from now): the whole API refuses connections, and open ones are cut. Only the
  standalone simulator can do this (its port is its own); the embedded one answers 422 ``not_supported``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from pydantic import BaseModel, Field

from app.simulator.refusals import SimulatorError


def _share() -> float:
    """A share of deliveries, 0..1 (0: never)."""
    return Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)


class DeliveryFaults(BaseModel):
    """The webhook side's settings; see the module docstring. Shares are 0..1, times in seconds."""

    duplicate: float = _share()
    concurrent_duplicates: float = Field(default=0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    reorder: float = _share()
    reorder_hold: float = Field(default=2.0, gt=0.0, le=600.0, allow_inf_nan=False)
    delay: float = _share()
    delay_seconds: float = Field(default=1.0, ge=0.0, le=600.0, allow_inf_nan=False)
    drop: float = _share()
    seed: int | None = None


class FaultsIn(DeliveryFaults):
    """``POST /_control/faults``: the fields sent change, the others keep their value."""

    unavailable_tool_responses: int = Field(default=0, ge=0, le=1_000_000)
    unavailable_for: float = Field(default=0.0, ge=0.0, le=86_400.0, allow_inf_nan=False)
    down_for: float = Field(default=0.0, ge=0.0, le=86_400.0, allow_inf_nan=False)


@dataclass
class FaultCounts:
    """How often each fault was made: deliveries duplicated (of them, concurrently), reordered (of them,
    overtaken by the next one before ``reorder_hold`` ran out), delayed and dropped; 503 answers; outages."""

    duplicated: int = 0
    duplicated_concurrently: int = 0
    reordered: int = 0
    overtaken: int = 0
    delayed: int = 0
    dropped: int = 0
    unavailable_answers: int = 0
    outages: int = 0


@dataclass(frozen=True)
class DeliveryPlan:
    """What to do wrong with one delivery."""

    duplicate: bool = False
    concurrent: bool = False
    reorder: bool = False
    delay: float = 0.0
    drop: bool = False


@dataclass
class FaultState:
    """One simulator's fault settings and counts.

    ``await go_down(seconds)`` is set by whoever owns the listening socket (the standalone server); without it
    ``down_for`` is refused. ``unavailable_until`` is a ``time.monotonic()`` moment.
    """

    delivery: DeliveryFaults = field(default_factory=DeliveryFaults)
    counts: FaultCounts = field(default_factory=FaultCounts)
    unavailable_until: float = 0.0
    go_down: Callable[[float], Awaitable[None]] | None = None
    _rng: random.Random = field(default_factory=random.Random)

    def update(self, body: FaultsIn) -> float:
        """Apply the fields of ``body`` that were sent; returns the seconds to go down for (0: not), for the
        caller to pass to ``go_down`` once its answer is out. Raises 422 ``not_supported`` for ``down_for``
        without ``go_down``. ``unavailable_tool_responses`` is the engine's to set."""
        sent = body.model_fields_set
        down = body.down_for if "down_for" in sent else 0.0
        if down > 0 and self.go_down is None:
            raise SimulatorError(
                422, "not_supported",
                "down_for needs the standalone simulator (python -m app.simulator): the embedded one shares the "
                "console's port; use unavailable_for for 503 answers instead",
            )  # fmt: skip
        changed = {name: getattr(body, name) for name in DeliveryFaults.model_fields if name in sent}
        if changed:
            self.delivery = self.delivery.model_copy(update=changed)
            if "seed" in changed:
                self._rng.seed(self.delivery.seed)
        if "unavailable_for" in sent:
            self.unavailable_until = time.monotonic() + body.unavailable_for
        self.counts.outages += down > 0
        return down

    def check_tool_responses(self) -> None:
        """Raise 503 ``unavailable`` while ``unavailable_for`` lasts."""
        left = self.unavailable_until - time.monotonic()
        if left > 0:
            self.counts.unavailable_answers += 1
            raise SimulatorError(
                503, "unavailable", f"the platform is unavailable (a simulated outage, {left:.1f} s more): try again"
            )

    def plan(self) -> DeliveryPlan:
        """Draw what goes wrong with the next delivery, and count it (a reorder is counted by the deliverer,
        which may not be able to hold the delivery)."""
        settings, rng, counts = self.delivery, self._rng, self.counts
        duplicate = rng.random() < settings.duplicate
        concurrent = duplicate and rng.random() < settings.concurrent_duplicates
        plan = DeliveryPlan(
            duplicate=duplicate,
            concurrent=concurrent,
            reorder=rng.random() < settings.reorder,
            delay=settings.delay_seconds if rng.random() < settings.delay else 0.0,
            drop=rng.random() < settings.drop,
        )
        counts.duplicated += plan.duplicate
        counts.duplicated_concurrently += plan.concurrent
        counts.delayed += plan.delay > 0
        counts.dropped += plan.drop
        return plan

    def public(self) -> dict[str, object]:
        """``GET /_control/faults``: ``{"delivery": settings, "unavailable_for_left": s, "counts": {...}}``."""
        return {
            "delivery": self.delivery.model_dump(),
            "unavailable_for_left": round(max(0.0, self.unavailable_until - time.monotonic()), 3),
            "can_go_down": self.go_down is not None,
            "counts": asdict(self.counts),
        }
