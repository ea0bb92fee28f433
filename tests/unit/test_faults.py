"""Latency and simulated failures around any handler's answer."""

from __future__ import annotations

import random
import time

import pytest
from pydantic import ValidationError

from app.handlers.answer import Answer
from app.handlers.faults import Behaviour, apply_behaviour, plan

OK = Answer(output="ok", is_error=False, note="static")


class FakeSleep:
    """Records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_apply_behaviour_fixed_latency_sleeps():
    started = time.perf_counter()
    answer = await apply_behaviour(Behaviour(latency_ms=20), lambda: OK, rng=random.Random(1))
    assert answer == OK
    assert time.perf_counter() - started >= 0.019


async def test_apply_behaviour_fixed_latency_exact_delay():
    sleep = FakeSleep()
    await apply_behaviour(Behaviour(latency_ms=250), lambda: OK, rng=random.Random(1), sleep=sleep)
    assert sleep.delays == [0.25]


async def test_apply_behaviour_random_latency_within_bounds():
    sleep = FakeSleep()
    rng = random.Random(42)
    behaviour = Behaviour(latency_ms=100, latency_max_ms=300)
    for _ in range(50):
        await apply_behaviour(behaviour, lambda: OK, rng=rng, sleep=sleep)
    assert all(0.1 <= d <= 0.3 for d in sleep.delays)
    assert len(set(sleep.delays)) > 1


async def test_apply_behaviour_no_latency_no_sleep():
    sleep = FakeSleep()
    await apply_behaviour(Behaviour(), lambda: OK, rng=random.Random(1), sleep=sleep)
    assert sleep.delays == []


def test_plan_same_seed_same_plan():
    behaviour = Behaviour(latency_ms=0, latency_max_ms=1000, fail_probability=0.5)
    first = [plan(behaviour, rng) for rng in [random.Random(3)] for _ in range(10)]
    again = [plan(behaviour, rng) for rng in [random.Random(3)] for _ in range(10)]
    assert first == again


async def test_apply_behaviour_probability_zero_never_fails():
    rng = random.Random(5)
    answers = [await apply_behaviour(Behaviour(fail_probability=0.0), lambda: OK, rng=rng) for _ in range(200)]
    assert all(a == OK for a in answers)


async def test_apply_behaviour_probability_one_always_fails_without_calling():
    called: list[int] = []

    def factory() -> Answer:
        called.append(1)
        return OK

    behaviour = Behaviour(fail_probability=1.0, fail_message="upstream timeout")
    answer = await apply_behaviour(behaviour, factory, rng=random.Random(5))
    assert (answer.output, answer.is_error) == ("upstream timeout", True)
    assert "simulated failure" in answer.note
    assert called == []


async def test_apply_behaviour_awaits_async_factory():
    async def factory() -> Answer:
        return OK

    assert await apply_behaviour(Behaviour(), factory, rng=random.Random(1)) == OK


def test_plan_probability_half_fails_about_half():
    rng = random.Random(11)
    fails = sum(plan(Behaviour(fail_probability=0.5), rng).fail for _ in range(1000))
    assert 400 < fails < 600


def test_validate_latency_over_limit():
    with pytest.raises(ValidationError, match=r"latency 60001 ms is outside 0 to 60000 ms \(60 s\)"):
        Behaviour(latency_ms=60_001)


def test_validate_negative_latency():
    with pytest.raises(ValidationError, match="latency -1 ms is outside"):
        Behaviour(latency_ms=-1)


def test_validate_max_below_min():
    with pytest.raises(ValidationError, match="latency_max_ms 10 is below latency_ms 20"):
        Behaviour(latency_ms=20, latency_max_ms=10)


def test_validate_probability_out_of_range():
    with pytest.raises(ValidationError, match=r"fail_probability 1\.5 is outside 0 to 1"):
        Behaviour(fail_probability=1.5)


def test_validate_unknown_field_refused():
    with pytest.raises(ValidationError, match="latency_sec"):
        Behaviour.model_validate({"latency_sec": 1})


def test_behaviour_json_round_trip():
    behaviour = Behaviour(latency_ms=200, latency_max_ms=1500, fail_probability=0.1, fail_message="upstream timeout")
    assert Behaviour.model_validate_json(behaviour.model_dump_json()) == behaviour
