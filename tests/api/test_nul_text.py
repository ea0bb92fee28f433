"""U+0000 in a delivery (JSON ``\\u0000``): SQLite stores it anywhere; PostgreSQL's text cannot hold it, so there a
delivery carrying it in a field stored as text is refused 400 with a message saying so, and one carrying it in a
JSON value (arguments, result) is stored and found by the search like any other (up to the U+0000 on SQLite,
whose string functions stop there)."""

from __future__ import annotations

from app.runtime import Runtime
from tests.builders import Console, encode, make_status, sign


async def test_nul_in_tool_name_refused_on_postgresql_stored_on_sqlite(console: Console, runtime: Runtime):
    calls = [{"id": "call_1", "name": "get\u0000time", "arguments": {}}]
    raw = encode(make_status(8801, tool_calls=calls))

    response = await console.post_webhook(raw, sign(raw, msg_id="msg_nul"))

    if runtime.engine.dialect.name == "sqlite":
        assert (response.status_code, response.json()["verdict"]) == (200, "applied")
    else:
        assert response.status_code == 400, response.text
        assert "U+0000" in response.json()["error"]["message"]
        listed = (await console.get("/api/deliveries", params={"task_id": 8801})).json()["deliveries"]
        assert [item["verdict"] for item in listed] == ["bad_body"]


async def test_nul_in_result_and_arguments_stored_and_searchable(console: Console):
    calls = [{"id": "call_1", "name": "lookup", "arguments": {"note": "Ab\u0000Cd-argument"}}]
    await console.deliver(make_status(8802, tool_calls=calls), "msg_a")
    await console.deliver(make_status(8803, status="completed", sequence=5, result="Zéro-result\u0000 tail"), "msg_b")
    await console.deliver(
        make_status(8804, status="completed", sequence=5, result={"k": "xy-object\u0000 tail"}), "msg_c"
    )

    for q, task_id in (("cd-argument", 8802), ("ZÉRO-RES", 8803), ("y-OBJECT", 8804)):
        response = await console.get("/api/runs", params={"q": q})
        assert response.status_code == 200, response.text
        assert [run["task_id"] for run in response.json()["runs"]] == [task_id], q
