"""Comparing two runs: rounds by number, calls by tool name and occurrence, differences named."""

from __future__ import annotations

from typing import Any

from app.models import EventPublic, RoundPublic, RunDetail, ToolCallPublic, ToolResultPublic
from app.runtime import Runtime
from app.services.compare import compare_details, compare_runs
from app.states import AnswererKind
from tests.builders import Console, make_status

Call = tuple[str, dict[str, Any], str]  # tool name, arguments, output


def _run(task_id: int, *rounds: list[Call], inputs: dict[str, str] | None = None, result: Any = None) -> RunDetail:
    """A completed run whose rounds hold these calls, each answered with its output; ids unique per run."""
    return RunDetail(
        task_id=task_id,
        agent_id="agent-1",
        agent_name="Trip planner",
        status="completed",
        sequence=9,
        round=None,
        environment="playground",
        string_inputs=inputs or {"1": "Lisbon"},
        result=result,
        error=None,
        started_by="test",
        created_at=100.0,
        updated_at=110.0,
        ended_at=107.5,
        rounds=[_round(task_id, number, calls) for number, calls in enumerate(rounds, start=1)],
        events=[
            EventPublic(id=1, at=100.0, kind="started", summary="", delivery_id=None, round_id=None),
            EventPublic(id=2, at=107.5, kind="state", summary="", delivery_id=None, round_id=None),
            EventPublic(id=3, at=400.0, kind="history", summary="late", delivery_id=None, round_id=None),
        ],
    )


def _round(task_id: int, number: int, calls: list[Call]) -> RoundPublic:
    ids = [f"call_{task_id}_{number}_{position}" for position in range(len(calls))]
    return RoundPublic(
        id=task_id * 100 + number,
        agent_id="agent-1",
        task_id=task_id,
        round=number,
        state="submitted",
        expires_at=None,
        opened_at=100.0 + number,
        submitted_at=102.5 + number,
        acknowledged_at=None,
        answered_kind=AnswererKind.PERSON,
        answered_user="api",
        message="",
        tool_calls=[
            ToolCallPublic(tool_call_id=i, name=name, arguments=args)
            for i, (name, args, _) in zip(ids, calls, strict=True)
        ],
        results=[
            ToolResultPublic(tool_call_id=i, output=output, is_error=False, answered_user="api", created_at=102.0)
            for i, (_, _, output) in zip(ids, calls, strict=True)
        ],
    )


WEATHER: Call = ("get_weather", {"city": "Lisbon"}, '{"sky": "clear", "temp_c": 19}')
FLIGHT: Call = ("search_flights", {"from": "LHR", "to": "Lisbon", "date": "2026-12-24"}, "TP1351")
HOTEL: Call = ("book_hotel", {"city": "Lisbon", "date": "2026-12-24"}, "Hotel Avenida")


def test_compare_identical_runs_no_differences():
    flight_reordered: Call = ("search_flights", {"date": "2026-12-24", "to": "Lisbon", "from": "LHR"}, "TP1351")
    weather_reformatted: Call = ("get_weather", {"city": "Lisbon"}, '{"temp_c":19,"sky":"clear"}')
    comparison = compare_details(
        a=_run(1, [WEATHER, FLIGHT], [HOTEL], result="done"),
        b=_run(2, [weather_reformatted, flight_reordered], [HOTEL], result="done"),
    )
    assert [(s.round, s.tool_name, s.differs) for s in comparison.steps] == [
        (1, "get_weather", False),
        (1, "search_flights", False),
        (2, "book_hotel", False),
    ]
    assert comparison.same_agent and comparison.same_inputs and not comparison.result_differs
    assert comparison.differing_steps == 0
    assert comparison.summary == "3 steps, none differ."
    assert comparison.a.duration == 7.5
    assert comparison.steps[0].a is not None and comparison.steps[0].a.waited == 2.5


def test_compare_different_arguments_names_the_keys():
    flight_porto: Call = (
        "search_flights",
        {"from": "LHR", "to": "Porto", "date": "2026-12-24", "seat": "4A"},
        "TP1351",
    )
    comparison = compare_details(
        a=_run(1, [WEATHER, FLIGHT]), b=_run(2, [WEATHER, flight_porto], inputs={"1": "Porto", "2": "2026-12-24"})
    )
    step = comparison.steps[1]
    assert (step.arguments_differ, step.differing_keys, step.result_differs) == (True, ["to", "seat"], False)
    assert not comparison.steps[0].differs
    assert (comparison.same_inputs, comparison.differing_inputs) == (False, ["1", "2"])
    assert comparison.summary == "2 steps, 1 differs: search_flights arguments (to, seat)"


def test_compare_different_results_flags_result_not_arguments():
    rainy: Call = ("get_weather", {"city": "Lisbon"}, '{"sky": "rain", "temp_c": 19}')
    comparison = compare_details(a=_run(1, [WEATHER], result="clear"), b=_run(2, [rainy], result="rain"))
    [step] = comparison.steps
    assert (step.arguments_differ, step.result_differs) == (False, True)
    assert comparison.result_differs
    assert comparison.summary == "1 step, 1 differs: get_weather result"


def test_compare_error_flag_alone_is_a_result_difference():
    a, b = _run(1, [WEATHER]), _run(2, [WEATHER])
    b.rounds[0].results[0].is_error = True
    [step] = compare_details(a=a, b=b).steps
    assert step.result_differs


def test_compare_call_only_in_one_run_leaves_other_side_empty():
    umbrella: Call = ("book_umbrella", {"city": "Lisbon"}, "umbrella reserved")
    comparison = compare_details(a=_run(1, [WEATHER, FLIGHT], [HOTEL]), b=_run(2, [WEATHER, FLIGHT], [umbrella]))
    only = [(s.tool_name, s.only_in, s.a is None, s.b is None) for s in comparison.steps if s.round == 2]
    assert only == [("book_hotel", "A", False, True), ("book_umbrella", "B", True, False)]
    assert comparison.summary == "4 steps, 2 differ: book_hotel only in A, book_umbrella only in B"


def test_compare_round_only_in_one_run_is_one_sided_steps():
    comparison = compare_details(a=_run(1, [WEATHER]), b=_run(2, [WEATHER], [HOTEL]))
    assert [(s.round, s.tool_name, s.only_in) for s in comparison.steps] == [
        (1, "get_weather", None),
        (2, "book_hotel", "B"),
    ]


def test_compare_same_tool_twice_in_a_round_matches_in_order():
    oslo: Call = ("get_weather", {"city": "Oslo"}, "snow")
    bergen: Call = ("get_weather", {"city": "Bergen"}, "rain")
    bergen_dry: Call = ("get_weather", {"city": "Bergen"}, "dry")
    comparison = compare_details(a=_run(1, [oslo, bergen]), b=_run(2, [oslo, bergen_dry, oslo]))
    assert [(s.a and s.a.arguments, s.b and s.b.arguments, s.result_differs) for s in comparison.steps] == [
        ({"city": "Oslo"}, {"city": "Oslo"}, False),
        ({"city": "Bergen"}, {"city": "Bergen"}, True),
        (None, {"city": "Oslo"}, False),
    ]
    assert comparison.steps[2].only_in == "B"


def test_compare_calls_in_other_order_still_pair_by_tool():
    comparison = compare_details(a=_run(1, [WEATHER, FLIGHT]), b=_run(2, [FLIGHT, WEATHER]))
    assert [(s.tool_name, s.differs) for s in comparison.steps] == [("get_weather", False), ("search_flights", False)]


def test_compare_json_equal_keeps_true_and_one_apart():
    comparison = compare_details(
        a=_run(1, [("set_flag", {"on": True}, "1")]), b=_run(2, [("set_flag", {"on": 1}, "true")])
    )
    [step] = comparison.steps
    assert (step.differing_keys, step.result_differs) == (["on"], True)


async def test_compare_runs_stored_ignores_tool_call_ids(console: Console, runtime: Runtime):
    await console.deliver(make_status(9101, tool_calls=[{"id": "x1", "name": "f", "arguments": {"k": 1}}]), "m1")
    await console.deliver(make_status(9102, tool_calls=[{"id": "y9", "name": "f", "arguments": {"k": 2}}]), "m2")
    comparison = compare_runs(engine=runtime.engine, a=9101, b=9102)
    [step] = comparison.steps
    assert (step.a and step.a.tool_call_id, step.b and step.b.tool_call_id) == ("x1", "y9")
    assert step.differing_keys == ["k"]
    assert comparison.summary == "1 step, 1 differs: f arguments (k)"


async def test_get_compare_unknown_run_is_404_naming_the_side(console: Console):
    await console.deliver(make_status(9201), "m1")
    response = await console.get("/api/compare", params={"a": 9201, "b": 9299})
    assert response.status_code == 404
    assert "task_id 9299 (run B)" in response.json()["error"]["message"]
    same = await console.get("/api/compare", params={"a": 9201, "b": 9201})
    assert same.status_code == 200 and same.json()["differing_steps"] == 0
    assert (await console.get("/api/compare", params={"a": 0, "b": 1})).status_code == 422


async def test_compare_unparsed_arguments_compared_as_text_sent(console: Console, runtime: Runtime):
    """Case C10: two calls whose arguments did not parse are both ``{}``; their texts as sent tell them apart."""
    for task_id, text in ((9301, '{"city": "Os'), (9302, '{"city": "Be'), (9303, '{"city": "Os')):
        call = {"id": "c1", "name": "get_weather", "arguments": text}
        await console.deliver(make_status(task_id, tool_calls=[call]), f"m{task_id}")
    [step] = compare_runs(engine=runtime.engine, a=9301, b=9302).steps
    assert (step.arguments_differ, step.differing_keys) == (True, ["(text as sent)"])
    assert step.a is not None and step.a.arguments_text == '{"city": "Os'
    [same] = compare_runs(engine=runtime.engine, a=9301, b=9303).steps
    assert not same.arguments_differ


async def test_compare_duration_ends_at_first_terminal_status_not_late_deliveries(console: Console):
    """Late deliveries after the end (a history line, a duplicate, another terminal status with a higher
    sequence) stay on the timeline but never lengthen the run's duration."""
    await console.deliver(make_status(9401, status="running", sequence=1, round=None), "d1")
    await console.deliver(make_status(9401, status="completed", sequence=3, result="done"), "d3")
    ended = (await console.run(9401))["ended_at"]
    await console.deliver(make_status(9401, status="awaiting_tool_calls", sequence=2), "d2")  # history
    await console.deliver(make_status(9401, status="failed", sequence=4, error={"code": "x"}), "d4")
    run = await console.run(9401)
    assert run["ended_at"] == ended and run["status"] == "failed"
    assert run["events"][-1]["at"] > ended
    header = (await console.get("/api/compare", params={"a": 9401, "b": 9401})).json()["a"]
    assert header["duration"] == ended - run["events"][0]["at"]
