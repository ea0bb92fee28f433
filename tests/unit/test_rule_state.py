"""Rules handlers' memory in the database: counts that two calls at once never share, and bounded run state."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import make_engine
from app.handlers.rules_pool import close_rules_pool
from app.handlers.rules_steps import StateTooBig
from app.handlers.run import CallInput, answer_call
from app.services import rule_state
from app.services.rule_state import StoredMemory
from app.states import HandlerKind

AGENT = "agent-1"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path}/state.db")


def test_count_call_from_many_threads_at_once_gives_each_its_own_count(engine: Engine):
    counts: list[int] = []
    start = threading.Barrier(8)

    def count() -> None:
        start.wait()
        for _ in range(5):
            counts.append(rule_state.count_call(engine, agent_id=AGENT, tool_name="t", rule="#1", task_id=7))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(counts) == list(range(1, 41))


def test_count_call_keeps_rules_runs_and_handlers_apart(engine: Engine):
    def count(tool: str, rule: str, task_id: int) -> int:
        return rule_state.count_call(engine, agent_id=AGENT, tool_name=tool, rule=rule, task_id=task_id)

    assert [count("t", "#1", 7), count("t", "#1", 7), count("t", "#2", 7), count("t", "#1", 8)] == [1, 2, 1, 1]
    assert [count("u", "#1", 7), count("t", "#1", rule_state.ACROSS_RUNS)] == [1, 1]
    assert rule_state.rule_counts(engine, agent_id=AGENT, tool_name="t") == {"#1": 1}
    assert rule_state.reset_counts(engine, agent_id=AGENT, tool_name="t") == 4
    assert count("t", "#1", 7) == 1
    assert count("u", "#1", 7) == 2  # another handler's counts stay


def test_set_state_merges_removes_and_refuses_past_the_bounds(engine: Engine):
    assert rule_state.set_state(engine, 7, {"a": 1, "b": [1, 2]}) == {"a": 1, "b": [1, 2]}
    assert rule_state.set_state(engine, 7, {"a": None, "c": "x"}) == {"b": [1, 2], "c": "x"}
    with pytest.raises(StateTooBig, match=r"would make the run's state \d+ bytes of JSON \(limit 4096\)"):
        rule_state.set_state(engine, 7, {"d": "y" * 5000})
    with pytest.raises(StateTooBig, match=r"65 keys \(limit 64\)"):
        rule_state.set_state(engine, 7, {f"k{n}": n for n in range(63)})
    assert rule_state.read_state(engine, 7) == {"b": [1, 2], "c": "x"}
    assert rule_state.read_state(engine, 8) == {}


async def test_calls_of_one_rule_at_once_in_one_run_get_calls_one_to_n(engine: Engine):
    """Two rounds (or two calls of a round) of the same run answered at once never both get call 1."""
    spec = {"rules": [{"name": "n", "when": [], "response": {"output": "call {{ call_count }}"}, "then": [
        {"output": "then {{ call_count }}"}], "after_end": "repeat"}], "default": None}  # fmt: skip

    async def one(n: int) -> str:
        call = CallInput(f"call_{n}", "t", {}, AGENT, 42, 1, {})
        memory = lambda c: StoredMemory(engine, c.agent_id, c.tool_name, c.task_id)  # noqa: E731
        done = await answer_call(
            kind=HandlerKind.RULES, spec=spec, behaviour={}, call=call, sandbox=None, memory=memory
        )
        return done.answer.output

    try:
        outputs = await asyncio.gather(*(one(n) for n in range(6)))
    finally:
        await close_rules_pool()

    assert sorted(outputs) == ["call 1", "then 2", "then 3", "then 4", "then 5", "then 6"]
