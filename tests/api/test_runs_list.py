"""The runs list: filters, free-text search over calls and results, order, pages, with the total."""

from __future__ import annotations

import pytest

from app.runtime import Runtime
from tests.builders import Console, make_status


async def _seed(console: Console) -> None:
    await console.deliver(
        make_status(8001, tool_calls=[{"id": "c1", "name": "get_weather", "arguments": {"city": "Renée-ville"}}]),
        "m1",
    )
    await console.deliver(
        make_status(8002, status="completed", sequence=5, result="booked a hotel in Porto", environment="staging"),
        "m2",
    )
    await console.deliver(make_status(8003, status="failed", sequence=4, error={"code": "x", "message": "y"}), "m3")


async def _ids(console: Console, **params: str) -> tuple[list[int], int]:
    response = await console.get("/api/runs", params=params)
    assert response.status_code == 200, response.text
    return [run["task_id"] for run in response.json()["runs"]], response.json()["total"]


async def test_list_runs_filters_by_status_and_environment(console: Console):
    await _seed(console)
    assert await _ids(console, status="failed") == ([8003], 1)
    assert await _ids(console, environment="staging") == ([8002], 1)


async def test_list_runs_search_finds_arguments_tool_names_and_results(console: Console):
    await _seed(console)
    assert (await _ids(console, q="renée"))[0] == [8001]
    assert (await _ids(console, q="GET_WEATHER"))[0] == [8001]
    assert (await _ids(console, q="porto"))[0] == [8002]
    assert (await _ids(console, q="100%"))[0] == []


async def test_list_runs_pages_and_sorts_with_total(console: Console):
    await _seed(console)
    assert await _ids(console, sort="task_id", descending="false", per_page="2") == ([8001, 8002], 3)
    assert await _ids(console, sort="task_id", descending="false", per_page="2", page="2") == ([8003], 3)


async def test_list_runs_bad_sort_is_422(console: Console):
    response = await console.get("/api/runs", params={"sort": "password"})
    assert response.status_code == 422
    assert "sort" in response.json()["error"]["message"]


async def test_search_runs_quote_matches_no_run_without_one(console: Console):
    """Regression: ``Run.result`` is a JSON column searched as ``CAST(result AS TEXT)``: a string result is stored with its
    quotes, so ``q="`` (or any JSON syntax such as ``:``) matches every run with a text result."""
    await console.deliver(make_status(8801, status="completed", sequence=4, round=None, result="done"), "m1")
    found = (await console.get("/api/runs", params={"q": '"'})).json()
    assert found["total"] == 0


@pytest.mark.sqlite_only("SQLite's JSON functions; PostgreSQL's search reads the result as jsonb text")
async def test_short_search_reads_past_a_result_that_is_not_json(console: Console, runtime: Runtime):
    """A result SQLite's JSON functions cannot read (an older row, or a bare integer beyond a double's range that
    SQLite kept as an infinite REAL) made every search of one or two characters fail with 503."""
    await _seed(console)
    with runtime.engine.begin() as conn:  # what such a delivery left before the webhook refused it
        conn.exec_driver_sql("UPDATE run SET result = 9e999 WHERE task_id = 8003")

    assert await _ids(console, q="a") == ([8002, 8001], 2)  # "booked a hotel", "Renée-ville"
    assert await _ids(console, q="Po") == ([8002], 1)
