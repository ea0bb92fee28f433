"""The responder's reads and claim through the driver's cursor (``app.services.responder_store``), checked against
what is stored, on SQLite and on PostgreSQL: the outbox item it returns (sent without being read again) is the row
stored, results follow the calls' positions, who answered is on drafts and the outbox, and two consoles storing the
same round's answers at once claim it once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.answerers import Answerer
from app.db import make_engine, read_session
from app.handlers.answer import Answer
from app.handlers.run import CallAnswer
from app.models import Draft, Handler, OutboxItem, Round, Run, ToolCallRow
from app.services.responder_store import plan_and_store, plan_rounds, store_answers
from app.states import AnswererKind, DraftMode, HandlerKind, HandlerMode, HandlerSet, RoundState
from tests.builders import AGENT_ID

TASK_ID = 4242


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _open_round(engine: Engine, calls: list[tuple[str, str, int]], *, run: bool = True) -> int:
    """A pending round of ``TASK_ID`` with ``calls`` (tool call id, tool name, position), stored in that order."""
    now = time.time()
    with Session(engine) as session:
        if run:
            session.add(
                Run(task_id=TASK_ID, agent_id=AGENT_ID, status="awaiting_tool_calls", created_at=now, updated_at=now)
            )
        row = Round(task_id=TASK_ID, agent_id=AGENT_ID, round=1, opened_at=now)
        session.add(row)
        session.flush()
        assert row.id is not None
        for call_id, name, position in calls:
            session.add(
                ToolCallRow(
                    round_id=row.id, tool_call_id=call_id, name=name, position=position, arguments={"q": "?%s 'x'"}
                )
            )
        session.commit()
        return row.id


def _handler(engine: Engine, tool: str, output: str, *, mode: HandlerMode = HandlerMode.AUTO, version: int = 1) -> None:
    with Session(engine) as session:
        session.add(
            Handler(
                agent_id=AGENT_ID, tool_name=tool, kind=HandlerKind.STATIC, mode=mode,
                spec={"output": output}, behaviour={}, version=version, updated_at=time.time(),
            )
        )  # fmt: skip
        session.commit()


def test_outbox_item_returned_is_the_row_stored_and_results_follow_positions(engine: Engine) -> None:
    round_id = _open_round(engine, [("call_c", "tool_c", 2), ("call_a", "tool_a", 0), ("call_b", "tool_b", 1)])
    _handler(engine, "tool_a", "Ørsted ? 100%", version=3)
    _handler(engine, "tool_b", "it's %s")
    _handler(engine, "tool_c", '{"n": null}')

    [(_work, stored)] = plan_and_store(engine, TASK_ID)

    assert stored is not None and stored.item is not None
    with read_session(engine) as session:
        row = session.exec(select(OutboxItem)).one()
        drafts = {d.tool_call_id: d.answerer() for d in session.exec(select(Draft)).all()}
        state = session.get(Round, round_id)
    assert stored.item.model_dump() == row.model_dump()
    assert [r["tool_call_id"] for r in row.body["results"]] == ["call_a", "call_b", "call_c"]
    assert [r["output"] for r in row.body["results"]] == ["Ørsted ? 100%", "it's %s", '{"n": null}']
    assert row.answered_kind == AnswererKind.HANDLERS and row.answered_version is None
    assert row.sources["call_a"] == Answerer.handler(HandlerKind.STATIC, 3).model_dump(mode="json")
    assert drafts["call_a"] == Answerer.handler(HandlerKind.STATIC, 3)
    assert state is not None and state.state == RoundState.SUBMITTING


def test_round_without_its_run_is_answered_by_saved_handlers(engine: Engine) -> None:
    _open_round(engine, [("call_a", "tool_a", 0)], run=False)
    _handler(engine, "tool_a", "noon", version=2)

    [(work, stored)] = plan_and_store(engine, TASK_ID)

    assert work.handler_set == HandlerSet.SAVED
    assert stored is not None and stored.item is not None
    assert stored.item.sources == {"call_a": Answerer.handler(HandlerKind.STATIC, 2).model_dump(mode="json")}


def test_handler_switched_to_manual_after_planning_keeps_the_round_for_a_person(engine: Engine) -> None:
    round_id = _open_round(engine, [("call_a", "tool_a", 0)])
    _handler(engine, "tool_a", "noon")
    [work] = plan_rounds(engine, TASK_ID)
    with engine.begin() as conn:
        conn.execute(text("UPDATE handler SET mode = 'manual'"))

    item = store_answers(engine, work, [CallAnswer(answer=Answer(output="noon", is_error=False), duration_ms=0.0)])

    assert item is None
    with read_session(engine) as session:
        [draft] = session.exec(select(Draft)).all()
        assert draft.mode == DraftMode.AUTO and session.get(Round, round_id).state == RoundState.PENDING  # type: ignore[union-attr]
        assert session.exec(select(OutboxItem)).all() == []


@pytest.mark.postgresql_only("only PostgreSQL lets several consoles write at once (SQLite has one writer)")
async def test_two_consoles_storing_one_round_claim_it_once(database_url: str) -> None:
    ours, theirs = make_engine(database_url), make_engine(database_url)
    try:
        _open_round(ours, [("call_a", "tool_a", 0), ("call_b", "tool_b", 1)])
        _handler(ours, "tool_a", "a")
        _handler(ours, "tool_b", "b")
        plans = [plan_rounds(engine, TASK_ID)[0] for engine in (ours, theirs)]
        answers = [CallAnswer(answer=Answer(output=out, is_error=False), duration_ms=0.0) for out in ("a", "b")]

        items = await asyncio.gather(
            *(
                asyncio.to_thread(store_answers, engine, work, answers)
                for engine, work in zip((ours, theirs), plans, strict=True)
            )
        )

        assert len([item for item in items if item is not None]) == 1
        with read_session(ours) as session:
            [row] = session.exec(select(OutboxItem)).all()
            assert len(session.exec(select(Draft)).all()) == 2
        [item] = [item for item in items if item is not None]
        assert item.model_dump() == row.model_dump()
    finally:
        ours.dispose()
        theirs.dispose()


@pytest.mark.postgresql_only("SKIP LOCKED: another console's transaction holds the round")
def test_round_another_console_holds_is_left_to_it(database_url: str) -> None:
    ours, theirs = make_engine(database_url), make_engine(database_url)
    try:
        round_id = _open_round(ours, [("call_a", "tool_a", 0)])
        _handler(ours, "tool_a", "a")
        [work] = plan_rounds(ours, TASK_ID)
        answers = [CallAnswer(answer=Answer(output="a", is_error=False), duration_ms=0.0)]
        with theirs.connect() as conn, conn.begin():
            conn.execute(text('SELECT id FROM "round" WHERE id = :id FOR UPDATE'), {"id": round_id})
            assert store_answers(ours, work, answers) is None
        item = store_answers(ours, work, answers)
        assert item is not None and item.round_id == round_id
    finally:
        ours.dispose()
        theirs.dispose()
