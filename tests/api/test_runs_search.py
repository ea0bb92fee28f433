"""The runs search on its trigram index: substrings of every searched field, Unicode case folding, short queries,
and runs whose searched text changes after they are first stored."""

from __future__ import annotations

from app.runtime import Runtime
from app.services import run_search, runs
from tests.builders import CLOCK, Console, make_status, wait_for


async def _found(console: Console, q: str) -> list[int]:
    response = await console.get("/api/runs", params={"q": q, "sort": "task_id", "descending": "false"})
    assert response.status_code == 200, response.text
    body = response.json()
    ids = [run["task_id"] for run in body["runs"]]
    assert body["total"] == len(ids)
    return ids


async def _seed(console: Console) -> None:
    calls = [{"id": "c1", "name": "lookup_weather_zx", "arguments": {"city": "Zürich-Nord", "note": "René"}}]
    await console.deliver(make_status(8401, tool_calls=calls), "m1")
    unparsed = [{"id": "c2", "name": "get_weather", "arguments": '{"city": "Ålesund-Sø'}]
    await console.deliver(make_status(8402, tool_calls=unparsed), "m2")
    await console.deliver(make_status(8403, status="completed", sequence=5, result="Café Ünïcode 42"), "m3")
    await console.deliver(make_status(8404, status="completed", sequence=5, result={"hotel": "Strandvägen"}), "m4")


async def test_search_runs_finds_substrings_of_each_field(console: Console):
    await _seed(console)
    assert await _found(console, "weather_z") == [8401]  # a tool name
    assert await _found(console, "rich-no") == [8401]  # arguments
    assert await _found(console, "Ålesund-S") == [8402]  # arguments as sent, when they do not parse
    assert await _found(console, "é Ünïc") == [8403]  # a text result
    assert await _found(console, "andväg") == [8404]  # a JSON result
    assert await _found(console, "get_weather") == [8402]
    assert await _found(console, "no such text") == []


async def test_search_runs_folds_case_beyond_ascii(console: Console):
    await _seed(console)
    assert await _found(console, "rené") == [8401]
    assert await _found(console, "RENÉ") == [8401]
    assert await _found(console, "ZÜRICH") == [8401]
    assert await _found(console, "ünïcode") == [8403]
    assert await _found(console, "ÜNÏCODE") == [8403]
    assert await _found(console, "ålesund") == [8402]
    assert await _found(console, "rene") == []  # accents are kept: only case is folded


async def test_search_runs_never_matches_across_two_fields(console: Console):
    """A run's fields share one index entry; a query spanning the end of one and the start of the next (the tool
    name ``lookup_weather_zx`` then its arguments) matches nothing, as it did field by field."""
    await _seed(console)
    assert await _found(console, 'zx{"city"') == []
    assert await _found(console, "zx\x1f{") == []


async def test_search_runs_short_query_still_finds_substrings(console: Console):
    await _seed(console)
    assert await _found(console, "ZX") == [8401]
    assert await _found(console, "42") == [8403]
    assert await _found(console, "%") == []


async def test_search_runs_quotes_and_operators_are_plain_text(console: Console):
    await console.deliver(make_status(8411, status="completed", sequence=5, result='say "yes" AND NOT * now'), "m1")
    await console.deliver(make_status(8412, status="completed", sequence=5, result="yes"), "m2")
    assert await _found(console, '"yes" AND') == [8411]
    assert await _found(console, "NOT *") == [8411]
    assert await _found(console, "yes") == [8411, 8412]


async def test_search_runs_like_wildcards_are_plain_text(console: Console):
    """``%``, ``_`` and ``\\`` are characters to find, never wildcards (PostgreSQL searches with ``LIKE``)."""
    await console.deliver(make_status(8421, status="completed", sequence=5, result="file_name 100% C:\\tmp"), "m1")
    await console.deliver(make_status(8422, status="completed", sequence=5, result="fileXname 1000 C:/tmp"), "m2")
    assert await _found(console, "file_name") == [8421]
    assert await _found(console, "100%") == [8421]
    assert await _found(console, ":\\tm") == [8421]
    assert await _found(console, "FILE") == [8421, 8422]


async def test_search_runs_follows_result_that_changes(console: Console):
    """A run's result that a later delivery replaces is found by its new text only."""
    await console.deliver(make_status(8421, status="running", sequence=2, result="drafting the Lisbon plan"), "m1")
    assert await _found(console, "lisbon plan") == [8421]
    await console.deliver(make_status(8421, status="completed", sequence=3, result="booked a hotel in Porto"), "m2")
    assert await _found(console, "lisbon plan") == []
    assert await _found(console, "HOTEL IN PORTO") == [8421]


async def test_search_runs_finds_tool_result_sent_later(console: Console):
    task_id = await console.start(CLOCK, {"1": "UTC"})
    round_ = await console.pending_round(task_id)
    assert await _found(console, "Mitternacht") == []
    await console.answer(round_, {"get_current_time": "Mitternacht in Tromsø"})
    assert await _found(console, "NACHT IN TROMSØ") == [task_id]
    await console.wait_for_status(task_id, "completed")
    assert await _found(console, "mitternacht") == [task_id]  # the result quoting the answer too


async def test_search_runs_finds_changes_before_and_after_indexing(console: Console, runtime: Runtime):
    """A change is found as soon as its delivery is answered (its run still marked, read directly), and again
    once the background step has indexed it: by its new text, never its old, with Unicode case folding both
    times."""
    await console.deliver(make_status(8431, status="running", sequence=2, result="Plan für MÜNCHEN"), "m1")
    assert await _found(console, "für münchen") == [8431]
    await wait_for(lambda: run_search.marked(runtime.engine) == 0)
    assert await _found(console, "FÜR MÜNCHEN") == [8431]

    await console.deliver(make_status(8431, status="completed", sequence=3, result="Zug nach WIEN gebucht"), "m2")
    assert await _found(console, "nach wien") == [8431]
    assert await _found(console, "für münchen") == []
    await wait_for(lambda: run_search.marked(runtime.engine) == 0)
    assert await _found(console, "nach wien") == [8431]
    assert await _found(console, "für münchen") == []


async def test_search_runs_with_nul_character_is_refused_as_bad_input(console: Console):
    """FTS5 and ``LIKE`` both end a text at U+0000: the query failed inside SQLite (500), or, searched by ``LIKE``,
    matched every run. It is refused as bad input instead."""
    await _seed(console)
    for q in ("\x00abc", "zü\x00", "\x00"):
        response = await console.get("/api/runs", params={"q": q})
        assert response.status_code == 422, (q, response.status_code, response.text)
        assert "U+0000" in response.json()["error"]["message"]


async def test_search_runs_past_its_deadline_answers_422_and_the_next_search_works(console: Console, monkeypatch):
    """A search that runs too long (one character repeated hundreds of times over long documents takes seconds in
    FTS5) is interrupted and answered 422 ``search_too_slow``; the connection is left clean for the next one."""
    await _seed(console)
    monkeypatch.setattr(runs, "SEARCH_SECONDS", -1.0)  # already past: the first look at the clock interrupts
    monkeypatch.setattr(runs, "PROGRESS_STEPS", 1)

    response = await console.get("/api/runs", params={"q": "a" * 200})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "search_too_slow"
    assert "shorter or more distinctive" in response.json()["error"]["message"]
    monkeypatch.undo()
    assert await _found(console, "weather_z") == [8401]
