"""Latency and simulated failures that any handler kind can add to its answers.

A behaviour is stored as JSON next to the handler's spec::

    {"latency_ms": 200, "latency_max_ms": 1500, "fail_probability": 0.1, "fail_message": "upstream timeout"}

Each call waits ``latency_ms`` (or a uniform random time between ``latency_ms`` and
``latency_max_ms``), then, with probability ``fail_probability``, answers the error
result ``fail_message`` instead of the handler's answer. The platform's webhook
timeout does not apply here: a round's deadline is its ``expires_at`` (CONTRACT.md),
so keep latencies well below it.

``fallback_seconds`` (optional, 1 to 86,400) makes the handler the tool's *fallback*: a round still pending that
many seconds before its ``expires_at`` is answered by it even in manual or suggest mode (``app.services.fallback``
says when and how). Absent or ``null``: no fallback; it is then left out of the stored JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from app.handlers.answer import Answer

MAX_LATENCY_MS = 60_000
MAX_FALLBACK_SECONDS = 86_400

AnswerFactory = Callable[[], Answer | Awaitable[Answer]]
"""Makes the handler's real answer: a plain function or a coroutine function, called only when not failing."""


class Behaviour(BaseModel):
    """Latency in milliseconds (fixed, or random up to ``latency_max_ms``) and a failure probability from 0 to 1."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = 0
    latency_max_ms: int | None = None
    fail_probability: float = 0.0
    fail_message: str = "simulated failure"
    fallback_seconds: int | None = None

    @model_serializer(mode="wrap")
    def _without_unset_fallback(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``fallback_seconds`` key when there is none, so behaviours saved before it existed compare equal."""
        dumped: dict[str, Any] = handler(self)
        if dumped.get("fallback_seconds") is None:
            dumped.pop("fallback_seconds", None)
        return dumped

    @field_validator("fallback_seconds", mode="before")
    @classmethod
    def _fallback_not_boolean(cls, value: object) -> object:
        """``true`` is not a number of seconds (pydantic would take it as 1: a fallback before anyone can answer)."""
        if isinstance(value, bool):
            raise ValueError(
                f"fallback_seconds {str(value).lower()} is not a number of seconds: give 1 to {MAX_FALLBACK_SECONDS}"
            )
        return value

    @field_validator("fallback_seconds")
    @classmethod
    def _fallback_in_bounds(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_FALLBACK_SECONDS:
            raise ValueError(
                f"fallback_seconds {value} is outside 1 to {MAX_FALLBACK_SECONDS} s (a day): pick a value in that "
                "range, or leave it empty for no fallback"
            )
        return value

    @field_validator("latency_ms", "latency_max_ms")
    @classmethod
    def _latency_in_bounds(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_LATENCY_MS:
            raise ValueError(
                f"latency {value} ms is outside 0 to {MAX_LATENCY_MS} ms (60 s): pick a value in that range"
            )
        return value

    @field_validator("fail_probability")
    @classmethod
    def _probability_in_bounds(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"fail_probability {value} is outside 0 to 1: use e.g. 0.1 for one call in ten")
        return value

    @model_validator(mode="after")
    def _max_not_below_min(self) -> Behaviour:
        if self.latency_max_ms is not None and self.latency_max_ms < self.latency_ms:
            raise ValueError(
                f"latency_max_ms {self.latency_max_ms} is below latency_ms {self.latency_ms}: "
                "raise it, or leave it empty for a fixed latency"
            )
        return self


@dataclass(frozen=True)
class Plan:
    """What one call will do: wait ``delay_s`` seconds, then fail (``fail``) or answer."""

    delay_s: float
    fail: bool


def plan(behaviour: Behaviour, rng: random.Random) -> Plan:
    """Draw one call's delay and failure from ``rng`` (seed it for repeatable runs)."""
    low = behaviour.latency_ms
    high = behaviour.latency_max_ms
    delay_ms = rng.uniform(low, high) if high is not None and high > low else float(low)
    fail = behaviour.fail_probability > 0 and rng.random() < behaviour.fail_probability
    return Plan(delay_s=delay_ms / 1000, fail=fail)


async def apply_behaviour(
    behaviour: Behaviour,
    answer_factory: AnswerFactory,
    *,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Answer:
    """Wait the planned delay (``sleep``, injectable for tests), then answer the simulated failure or
    ``answer_factory()``'s answer (awaited when it is a coroutine)."""
    drawn = plan(behaviour, rng)
    if drawn.delay_s > 0:
        await sleep(drawn.delay_s)
    if drawn.fail:
        note = f"simulated failure (fail_probability {behaviour.fail_probability:g})"
        return Answer(output=behaviour.fail_message, is_error=True, note=note)
    answer = answer_factory()
    if inspect.isawaitable(answer):
        return await answer
    return answer
