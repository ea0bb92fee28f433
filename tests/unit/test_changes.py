"""Change notifications coalesced for the whole process: one set of task ids per flush, and what changed since."""

from __future__ import annotations

import asyncio

from app.changes import BUSY_FLUSH_MOST, BUSY_FLUSH_SECONDS, BUSY_RUNS, Changes, busy_interval
from tests.builders import wait_for


async def test_burst_of_emits_reaches_a_subscriber_as_one_set():
    changes = Changes()
    got: list[frozenset[int]] = []
    changes.subscribe(got.append)

    for task_id in range(1, 501):  # 500 deliveries' worth, before the loop turns
        changes.emit(task_id)

    await wait_for(lambda: got)
    assert got == [frozenset(range(1, 501))]


async def test_emits_after_a_flush_come_in_the_next_one_and_the_last_is_never_lost():
    changes = Changes()
    got: list[frozenset[int]] = []
    changes.subscribe(got.append)
    changes.emit(1)
    await wait_for(lambda: got)

    changes.emit(2)
    changes.emit(3)

    await wait_for(lambda: len(got) == 2)
    assert got == [frozenset({1}), frozenset({2, 3})]


async def test_since_names_the_runs_changed_after_a_generation():
    changes = Changes()
    changes.subscribe(lambda _ids: None)
    changes.emit(7)
    await wait_for(lambda: changes.generation == 1)
    changes.emit(8)
    await wait_for(lambda: changes.generation == 2)

    assert changes.since(0) == {7, 8}
    assert changes.since(1) == {8}
    assert changes.since(2) == frozenset()
    assert changes.since(5) is None  # a generation this process never had: read everything again


async def test_a_burst_stretches_the_next_flush_and_a_quiet_change_does_not():
    changes = Changes()
    got: list[tuple[float, frozenset[int]]] = []
    loop = asyncio.get_running_loop()
    changes.subscribe(lambda ids: got.append((loop.time(), ids)))

    changes.emit(1)  # quiet: one run
    await wait_for(lambda: len(got) == 1)
    changes.emit(2)
    await wait_for(lambda: len(got) == 2)
    quiet_gap = got[1][0] - got[0][0]
    for task_id in range(100, 100 + BUSY_RUNS + 1):  # a burst: more runs than BUSY_RUNS in one flush
        changes.emit(task_id)
    await wait_for(lambda: len(got) == 3)
    changes.emit(3)
    await wait_for(lambda: len(got) == 4, within=BUSY_FLUSH_SECONDS + 2)

    assert quiet_gap < BUSY_FLUSH_SECONDS
    assert got[3][0] - got[2][0] >= BUSY_FLUSH_SECONDS - 0.01  # the flush after the burst waited
    assert got[3][1] == {3}


def test_a_burst_with_many_tabs_open_waits_longer_between_flushes_but_never_past_the_cap():
    assert busy_interval(1) == BUSY_FLUSH_SECONDS
    assert busy_interval(5) == BUSY_FLUSH_SECONDS
    assert busy_interval(10) == 2.0  # each of 10 tabs refreshes every 2 s during a burst, not every second
    assert busy_interval(100) == BUSY_FLUSH_MOST


async def test_the_flush_after_a_burst_waits_for_the_tabs_subscribed():
    changes = Changes()
    got: list[tuple[float, frozenset[int]]] = []
    loop = asyncio.get_running_loop()
    changes.subscribe(lambda ids: got.append((loop.time(), ids)))
    for _ in range(9):  # ten tabs in all
        changes.subscribe(lambda _ids: None)
    for task_id in range(100, 100 + BUSY_RUNS + 1):
        changes.emit(task_id)
    await wait_for(lambda: len(got) == 1)
    changes.emit(3)
    await wait_for(lambda: len(got) == 2, within=busy_interval(10) + 2)

    assert got[1][0] - got[0][0] >= busy_interval(10) - 0.01


async def test_bursting_from_a_burst_flush_until_a_quiet_flush():
    changes = Changes()
    got: list[frozenset[int]] = []
    changes.subscribe(got.append)
    assert not changes.bursting

    for task_id in range(1, BUSY_RUNS + 2):  # a burst's flush: more than BUSY_RUNS runs
        changes.emit(task_id)
    await wait_for(lambda: got)
    assert changes.bursting  # the next flush is not due yet: more of the burst may come
    changes.emit(99)
    assert changes.bursting  # held back until the busy interval has passed
    await wait_for(lambda: len(got) == 2)
    assert got[1] == {99}
    assert not changes.bursting  # a flush of few runs: the burst is over


async def test_bursting_ends_when_the_busy_interval_passes_without_a_change():
    changes = Changes()
    got: list[frozenset[int]] = []
    changes.subscribe(got.append)
    for task_id in range(1, BUSY_RUNS + 2):
        changes.emit(task_id)
    await wait_for(lambda: got)
    assert changes.bursting

    await wait_for(lambda: not changes.bursting, within=BUSY_FLUSH_SECONDS + 2)
    assert len(got) == 1  # nothing else was flushed: the interval ran out
