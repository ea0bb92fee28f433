"""Keeping unmatched calls on a real SQLite file: what is kept of a call, and the bound per handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app.db import make_engine
from app.handlers.answer import Answer
from app.handlers.run import CallInput
from app.services import handler_store, unmatched
from tests.builders import CLOCK

MISSED = Answer(output="no rule matched the arguments (there are no rules)", is_error=True, note="no rule matched")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'td.db'}")


def _handler(engine: Engine) -> int:
    handler = handler_store.HandlerIn(agent_id=CLOCK, tool_name="get_current_time", kind="rules", spec={"rules": []})
    return handler_store.save_handler(engine=engine, handler=handler).id


def _call(args: dict[str, Any], *, task_id: int = 1001, problem: str | None = None) -> CallInput:
    return CallInput(
        tool_call_id="call_1",
        tool_name="get_current_time",
        args=args,
        agent_id=CLOCK,
        task_id=task_id,
        round=1,
        results={},
        args_problem=problem,
    )


def test_keep_unmatched_leaves_out_arguments_too_long_and_says_so(engine: Engine):
    handler_id = _handler(engine)
    long_text = "x" * (unmatched.ARGUMENTS_KEPT + 1)

    unmatched.keep_unmatched(
        engine=engine, handler_id=handler_id, handler_version=1, call=_call({"text": long_text}), answer=MISSED
    )

    [call] = unmatched.list_unmatched(engine=engine, handler_id=handler_id)
    assert call.arguments is None
    assert call.arguments_problem == "not kept: 100,013 characters of JSON (over 100,000)"


def test_keep_unmatched_keeps_the_newest_per_handler_only(engine: Engine, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(unmatched, "UNMATCHED_KEPT", 3)
    handler_id = _handler(engine)

    for task_id in range(1001, 1006):
        call = _call({"timezone": "UTC"}, task_id=task_id)
        unmatched.keep_unmatched(engine=engine, handler_id=handler_id, handler_version=1, call=call, answer=MISSED)

    assert [c.task_id for c in unmatched.list_unmatched(engine=engine, handler_id=handler_id)] == [1005, 1004, 1003]
    assert unmatched.unmatched_mark(engine=engine, handler_id=handler_id)[0] == 3


def test_keep_unmatched_for_a_deleted_handler_keeps_nothing(engine: Engine):
    handler_id = _handler(engine)
    handler_store.delete_handler(engine=engine, handler_id=handler_id)

    unmatched.keep_unmatched(
        engine=engine, handler_id=handler_id, handler_version=1, call=_call({"timezone": "UTC"}), answer=MISSED
    )

    assert unmatched.unmatched_mark(engine=engine, handler_id=handler_id) == (0, 0)
