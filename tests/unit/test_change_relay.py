"""Consoles on one PostgreSQL database tell each other what changed (``app.change_relay``, LISTEN/NOTIFY), and claim
outbox items and rounds so that only one of them sends each (``SELECT ... FOR UPDATE SKIP LOCKED``).

Two relays, or two engines, on one real PostgreSQL database stand for two consoles (the process-level test with
real consoles and a browser is ``tests/e2e/test_two_consoles.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.answerers import AUTO
from app.change_relay import PAYLOAD_CHARS, ChangeRelay, parse, payloads
from app.changes import Changes
from app.db import make_engine, write_session
from app.errors import RoundClosed
from app.models import OutboxItem, Round, Run, ToolCallRow
from app.protocol import ToolResult
from app.services import outbox, typed_drafts
from app.services.rounds import claim_round, locked_round
from app.states import OutboxState, RoundState
from tests import postgres
from tests.builders import CLOCK, wait_for


@pytest.fixture
def shared_url(postgres_cluster: postgres.Cluster) -> Iterator[str]:
    """A database of its own on the test process's PostgreSQL cluster, on either pass of the suite."""
    name = postgres_cluster.fresh_database()
    yield postgres_cluster.url(name)
    postgres_cluster.release_database(name)


def test_payloads_stay_under_postgresql_limit_and_read_back():
    many = range(9_000_000_000_000_000_000, 9_000_000_000_000_001_000)
    sent = payloads("c0ffee", many)
    assert len(sent) > 1 and all(len(payload) <= PAYLOAD_CHARS for payload in sent)
    read = [parse(payload) for payload in sent]
    assert all(item is not None and item[0] == "c0ffee" for item in read)
    assert frozenset().union(*(item[1] for item in read if item is not None)) == frozenset(many)
    assert parse("c0ffee:presence") == ("c0ffee", "presence")
    assert parse("not ours") is None and parse("c0ffee:1,x") is None


async def test_a_change_in_one_console_reaches_the_other_and_not_itself(shared_url: str):
    engine = make_engine(shared_url)
    first, second = Changes(), Changes()
    seen_first: list[frozenset[int]] = []
    seen_second: list[frozenset[int]] = []
    first.subscribe(seen_first.append)
    second.subscribe(seen_second.append)
    secrets_read: list[str] = []
    a = ChangeRelay(url=engine.url, changes=first, on_secret=lambda: None)
    b = ChangeRelay(url=engine.url, changes=second, on_secret=lambda: secrets_read.append("b"))
    a.start()
    b.start()
    try:
        await wait_for(lambda: a.listening.is_set() and b.listening.is_set())
        first.emit(1001)
        first.emit(1002)

        await wait_for(lambda: frozenset({1001, 1002}) <= frozenset().union(*seen_second))
        assert seen_first == [frozenset({1001, 1002})]  # its own flush, once: its notification is skipped

        seen_first.clear()
        second.emit_remote(frozenset({7}))  # what came from elsewhere is flushed, never sent on
        await wait_for(lambda: frozenset({7}) in seen_second)
        revision = typed_drafts.revision()
        a.send_presence()
        a.send_secret()
        await wait_for(lambda: secrets_read == ["b"])
        assert typed_drafts.revision() > revision  # console b re-reads presence
        assert 7 not in frozenset().union(*seen_first)
    finally:
        await a.aclose()
        await b.aclose()
        engine.dispose()


async def test_everything_after_a_missed_notification_reads_every_run_again():
    changes = Changes()
    changes.subscribe(lambda _ids: None)
    changes.emit(5)
    await wait_for(lambda: changes.generation == 1)

    changes.emit_remote(frozenset(), everything=True)

    await wait_for(lambda: changes.generation == 2)
    assert changes.since(1) is None  # a cache that read at generation 1 reads everything
    assert changes.since(2) == frozenset()


def _pending_rounds(engine: Engine, count: int, *, items: bool) -> tuple[list[int], list[int]]:
    """A run with ``count`` rounds of one call each, pending, or (``items``) each with its submission due now in
    the outbox; returns the round ids and the outbox item ids."""
    now = time.time()
    rounds: list[int] = []
    item_ids: list[int] = []
    with write_session(engine) as session:
        session.add(Run(task_id=4001, agent_id=CLOCK, status="awaiting_tool_calls", created_at=now, updated_at=now))
        for number in range(1, count + 1):
            state = RoundState.SUBMITTING if items else RoundState.PENDING
            row = Round(task_id=4001, agent_id=CLOCK, round=number, state=state, opened_at=now)
            session.add(row)
            session.flush()
            assert row.id is not None
            rounds.append(row.id)
            session.add(ToolCallRow(round_id=row.id, tool_call_id="call_1", name="get_current_time", position=0))
            if not items:
                continue
            item = OutboxItem(
                round_id=row.id,
                task_id=4001,
                agent_id=CLOCK,
                body={"round": number, "results": [{"tool_call_id": "call_1", "output": "09:00"}]},
                idempotency_key=f"key-{number}",
                **AUTO.columns(),
                sources={},
                next_attempt_at=now,
                created_at=now,
            )
            session.add(item)
            session.flush()
            assert item.id is not None
            item_ids.append(item.id)
    return rounds, item_ids


def test_two_consoles_never_take_the_same_outbox_item(shared_url: str):
    engines = [make_engine(shared_url), make_engine(shared_url)]
    _, ids = _pending_rounds(engines[0], 4, items=True)
    taken: list[int] = []
    try:
        with Session(engines[0]) as console_a:  # console A is taking the first item, not committed yet
            held = console_a.exec(select(OutboxItem).where(OutboxItem.id == ids[0]).with_for_update()).one()
            other = threading.Thread(target=lambda: taken.extend(outbox._claim_due(engines[1])[0]))
            other.start()
            other.join(timeout=30)
            assert not other.is_alive(), "console B waited for the item console A holds"
            assert len(taken) == 1 and taken[0] != held.id  # it took another one at once (SKIP LOCKED)
        while due := outbox._claim_due(engines[0])[0]:
            taken.extend(due)

        assert sorted(taken) == sorted(ids)  # every item taken once, by one of them
        with Session(engines[1]) as session:
            leased = [session.get(OutboxItem, item_id) for item_id in ids]
        assert all(item is not None and item.next_attempt_at > time.time() + 10 for item in leased)
        assert all(item is not None and item.state == OutboxState.PENDING for item in leased)
    finally:
        for engine in engines:
            engine.dispose()


def test_a_round_held_by_another_console_is_skipped_by_handlers_and_waited_for_by_people(shared_url: str):
    holder, other = make_engine(shared_url), make_engine(shared_url)
    (round_id,), _ = _pending_rounds(holder, 1, items=False)
    results = [ToolResult(tool_call_id="call_1", output="09:00")]
    try:
        with Session(holder) as held:
            assert locked_round(held, round_id) is not None  # console A is claiming it
            with write_session(other) as session, pytest.raises(RoundClosed, match="another console"):
                claim_round(session, round_id, results, AUTO, {}, skip_locked=True)
            claim_round(held, round_id, results, AUTO, {})
            waited: list[BaseException | None] = []

            def person() -> None:
                try:
                    with write_session(other) as session:
                        claim_round(session, round_id, results, AUTO, {})
                except RoundClosed as exc:
                    waited.append(exc)
                else:
                    waited.append(None)

            thread = threading.Thread(target=person)
            thread.start()
            held.commit()
            thread.join(timeout=30)
        assert len(waited) == 1 and isinstance(waited[0], RoundClosed)  # it waited, then found the round taken
    finally:
        holder.dispose()
        other.dispose()
