"""Robustness sweeps through the API: a sweep over the demo's Trip planner finishes unattended against the embedded
simulator, its table counts each cell's outcomes, it exports as CSV and JSON, and bad bodies get a 422 naming the
field."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest

from app.db import make_engine
from app.runtime import Runtime
from app.services import agents, sweep_table, sweeps
from app.services.sweeps import SweepIn
from tests.builders import TRIP, Console, wait_for

CELLS = [{"kind": "normal"}, {"kind": "is_error", "value": "weather service down"}, {"kind": "no_answer"}]


async def _finished(console: Console, sweep_id: int) -> dict[str, Any]:
    async def done() -> dict[str, Any]:
        sweep = (await console.get(f"/api/sweeps/{sweep_id}")).json()
        return sweep if sweep["finished"] else {}

    return dict(await wait_for(done, within=60))


async def _start(console: Console, **body: Any) -> dict[str, Any]:
    body = {"agent_id": TRIP, "tool": "get_weather", "cells": CELLS, "runs_per_cell": 2, "round_ttl": 10, **body}
    response = await console.post("/api/sweeps", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def _save_static_handlers(console: Console) -> None:
    """Saved static handlers for the Trip planner's tools (instant, so a round is answered well within a sweep's
    3 s expiry on a busy machine; the demo set's rules take their workers' start first). Modes vary: a sweep uses
    its agent's handlers in any mode."""
    modes = {"get_weather": "auto", "search_flights": "manual", "book_hotel": "auto", "book_umbrella": "suggest"}
    for tool, mode in modes.items():
        spec = {"output": f"{tool} ok"}
        await console.save_handler(agent_id=TRIP, tool_name=tool, kind="static", mode=mode, spec=spec)


async def _trip_sweep(console: Console) -> dict[str, Any]:
    """3 cells × 2 runs of the Trip planner's get_weather, the other tools answered by saved handlers."""
    await _save_static_handlers(console)
    started = await _start(console)
    assert (started["runs"], started["finished"]) == (6, False)
    return await _finished(console, started["id"])


async def test_sweep_over_trip_planner_finishes_with_counts_per_cell(console: Console):
    sweep = await _trip_sweep(console)

    table = {row["label"]: row for row in sweep["table"]}
    assert list(table) == ["normal", "is_error: weather service down", "no_answer"]
    assert all(row["runs"] == 2 for row in table.values())
    assert table["normal"]["counts"]["completed"] == 2
    assert table["is_error: weather service down"]["counts"]["completed"] == 2
    assert table["no_answer"]["counts"]["expired"] == 2
    assert table["no_answer"]["errors"] == {"expired": 2}
    assert "was not answered" in table["no_answer"]["error_messages"]["expired"]
    assert table["normal"]["errors"] == {} and table["normal"]["mean_rounds"] == 2
    normal = await console.run(sweep["run_rows"][0]["task_id"])
    assert normal["rounds"][0]["results"][0]["output"] == "get_weather ok"  # the tool's own handler
    assert table["no_answer"]["mean_rounds"] == 1


async def test_sweep_answers_swept_tool_with_cell_value_and_others_by_handlers(console: Console):
    sweep = await _trip_sweep(console)

    by_cell = {row["cell"]: row for row in sweep["run_rows"]}
    errored = await console.run(by_cell[1]["task_id"])
    weather, flights = errored["rounds"][0]["results"]
    assert (weather["output"], weather["is_error"]) == ("weather service down", True)
    assert (flights["output"], flights["is_error"]) == ("search_flights ok", False)
    assert "Booking: book_hotel ok" in errored["result"]
    expired = await console.run(by_cell[2]["task_id"])
    assert expired["status"] == "expired" and expired["rounds"][0]["results"] == []


async def test_sweep_without_saved_handlers_uses_demo_set_for_other_tools(console: Console):
    cells = [{"kind": "normal", "value": "Rain all day"}]
    started = await _start(console, cells=cells, runs_per_cell=1, round_ttl=120)
    sweep = await _finished(console, started["id"])

    run = await console.run(sweep["run_rows"][0]["task_id"])
    assert run["status"] == "completed"
    weather, flights = run["rounds"][0]["results"]
    assert (weather["output"], weather["answered_by"]) == ("Rain all day", "static handler (sweep set)")
    assert flights["answered_by"] == "rules handler (sweep set)" and '"flight": "TP' in flights["output"]
    assert [call["name"] for call in run["rounds"][1]["tool_calls"]] == ["book_umbrella"]


async def test_sweep_exports_table_as_csv_and_json(console: Console):
    sweep = await _trip_sweep(console)

    response = await console.get(f"/api/sweeps/{sweep['id']}.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["label"], r["runs"], r["completed"], r["expired"]) for r in rows] == [
        ("normal", "2", "2", "0"),
        ("is_error: weather service down", "2", "2", "0"),
        ("no_answer", "2", "0", "2"),
    ]
    assert rows[2]["errors"].startswith("expired ×2 (round 1 was not answered")
    assert (await console.get(f"/api/sweeps/{sweep['id']}", params={"format": "csv"})).text == response.text

    exported = json.loads((await console.get(f"/api/sweeps/{sweep['id']}.json")).text)
    assert [row["counts"]["expired"] for row in exported["table"]] == [0, 0, 2]
    assert len(exported["run_rows"]) == 6
    assert [s["id"] for s in (await console.get("/api/sweeps")).json()] == [sweep["id"]]


async def test_sweep_csv_writes_formula_like_labels_as_text(console: Console):
    labels = ['=HYPERLINK("http://evil.example","x")', "-2+3", "\t=1+1", "@SUM(A1)", "+1", "plain -1"]
    await _save_static_handlers(console)
    started = await _start(console, cells=[{"kind": "empty", "label": label} for label in labels], runs_per_cell=1)
    sweep = await _finished(console, started["id"])

    rows = list(csv.DictReader(io.StringIO((await console.get(f"/api/sweeps/{sweep['id']}.csv")).text)))

    assert [row["label"] for row in rows] == [f"'{label}" for label in labels[:5]] + ["plain -1"]
    assert [row["label"] for row in sweep["table"]] == labels  # the JSON keeps them as given


async def test_sweep_large_unicode_and_malformed_answers_reach_the_platform(console: Console):
    cells = [{"kind": "large"}, {"kind": "unicode"}, {"kind": "malformed_json"}, {"kind": "empty"}]
    await _save_static_handlers(console)
    sweep = await _finished(console, (await _start(console, cells=cells, runs_per_cell=1))["id"])

    outputs = {}
    for row in sweep["run_rows"]:
        run = await console.run(row["task_id"])
        outputs[row["cell"]] = run["rounds"][0]["results"][0]["output"]
    assert len(outputs[0]) == 100 * 1024
    assert "שלום עולם" in outputs[1] and "مرحبا" in outputs[1] and "\u202e" in outputs[1]
    assert outputs[2].startswith('{"status": "ok"') and outputs[3] == ""
    assert [row["counts"]["completed"] for row in sweep["table"]] == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runs_per_cell": 0}, "runs_per_cell: Input should be greater than or equal to 1"),
        ({"runs_per_cell": 70}, "runs_per_cell: 3 cells × 70 runs is 210 runs: a sweep starts at most 200"),
        ({"cells": []}, "cells: List should have at least 1 item"),
        ({"cells": [{"kind": "loud"}]}, "cells.0.kind: Input should be"),
        ({"cells": [{"kind": "normal", "extra": 1}]}, "cells.0.extra: Extra inputs are not permitted"),
        ({"tool": "get_horoscope"}, "tool: Trip planner has no tool 'get_horoscope'"),
        ({"agent_id": "nobody"}, "agent_id: no agent 'nobody'"),
        ({"round_ttl": -1}, "round_ttl: Input should be greater than 0"),
        ({"round_ttl": float("nan")}, "round_ttl: Input should be a finite number"),
        ({"cells": [{"kind": "normal", "value": {"k": "\ud800"}}]}, "cells.0.value: a string at .k holds a lone"),
        ({"cells": [{"kind": "normal", "value": {"k": float("nan")}}]}, "cells.0.value: NaN at .k is not a JSON"),
        ({"cells": [{"kind": "normal", "value": float("inf")}]}, "cells.0.value: Infinity is not a JSON number"),
    ],
)
async def test_start_sweep_bad_body_answers_422_naming_field(console: Console, change: dict[str, Any], message: str):
    body = {"agent_id": TRIP, "tool": "get_weather", "cells": CELLS, "runs_per_cell": 2, **change}

    text = json.dumps(body)  # Python's JSON: NaN, Infinity and lone surrogates as a careless sender writes them
    response = await console.post("/api/sweeps", content=text, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(message)
    assert (await console.get("/api/sweeps")).json() == []


async def test_cancel_sweep_cancels_runs_not_over(console: Console):
    started = await _start(console, cells=[{"kind": "no_answer"}], round_ttl=600)
    await wait_for(lambda: console.pending())  # the first run waits on the round nobody answers

    response = await console.post(f"/api/sweeps/{started['id']}/cancel", json={})

    assert response.status_code == 200, response.text
    sweep = await _finished(console, started["id"])
    counts = sweep["table"][0]["counts"]
    assert counts["cancelled"] + counts["not_started"] == 2 and counts["cancelled"] >= 1


STARTING = "sync agents, reconcile runs"
"""The console's start-up task, which starts the runs of sweeps left unstarted (``app.main``)."""


async def test_cancel_before_any_start_counts_and_names_runs_not_started(console: Console, runtime: Runtime):
    body = SweepIn.model_validate({"agent_id": TRIP, "tool": "get_weather", "cells": CELLS[:1], "runs_per_cell": 2})
    await wait_for(lambda: not any(t.get_name() == STARTING for t in asyncio.all_tasks()))  # its resume is done
    sweep = await asyncio.to_thread(lambda: sweeps.create_sweep(engine=runtime.engine, body=body, created_by="t"))

    response = await console.post(f"/api/sweeps/{sweep.id}/cancel", json={})

    assert response.json() == {"cancelled": 0}
    [row] = (await console.get(f"/api/sweeps/{sweep.id}")).json()["table"]
    assert (row["counts"]["not_started"], row["counts"]["cancelled"]) == (2, 0)
    assert row["errors"] == {"not_started": 2}
    assert row["error_messages"] == {"not_started": "the sweep was cancelled before this run was started"}
    csv_row = next(csv.DictReader(io.StringIO((await console.get(f"/api/sweeps/{sweep.id}.csv")).text)))
    assert csv_row["errors"] == "not_started ×2 (the sweep was cancelled before this run was started)"


async def test_cancel_of_a_finished_sweep_is_409_and_leaves_it_finished(console: Console):
    await _save_static_handlers(console)
    started = await _start(console, cells=[{"kind": "empty"}], runs_per_cell=1)
    finished = await _finished(console, started["id"])

    response = await console.post(f"/api/sweeps/{started['id']}/cancel", json={})

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "sweep_over"
    assert "every run has ended, so there is nothing to cancel" in response.json()["error"]["message"]
    after = (await console.get(f"/api/sweeps/{started['id']}")).json()
    assert after["cancelled_at"] is None and after["table"] == finished["table"]


async def test_unknown_sweep_answers_404(console: Console):
    for path in ("/api/sweeps/999", "/api/sweeps/999.csv", "/api/sweeps/999.json"):
        response = await console.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


async def test_sweep_left_unstarted_is_started_at_start_up_and_its_table_outlives_restart(
    console: Console, runtime: Runtime
):
    await _save_static_handlers(console)
    body = SweepIn.model_validate(
        {"agent_id": TRIP, "tool": "get_weather", "cells": [{"kind": "empty"}], "runs_per_cell": 2, "round_ttl": 30}
    )
    await agents.sync_agents(engine=runtime.engine, client=runtime.client)
    sweep = await asyncio.to_thread(lambda: sweeps.create_sweep(engine=runtime.engine, body=body, created_by="t"))
    assert sweep.id is not None
    stored = (await console.get(f"/api/sweeps/{sweep.id}")).json()  # as a console stopped at once would leave it
    assert [row["task_id"] for row in stored["run_rows"]] == [None, None]

    await sweeps.resume_sweeps(engine=runtime.engine, client=runtime.client, on_started=runtime.run_started)

    finished = await _finished(console, sweep.id)
    assert finished["table"][0]["counts"]["completed"] == 2
    reopened = make_engine(runtime.settings.database_url)  # what a restarted console opens
    again = await asyncio.to_thread(lambda: sweep_table.get_sweep(engine=reopened, sweep_id=finished["id"]))
    reopened.dispose()
    assert again.model_dump(mode="json")["table"] == finished["table"]
