"""The webhook route: a signed status is applied; bad input gets a clear 4xx and is stored, nothing half-applied.

Promise (README, "How it behaves"): bad input gets a clear 4xx, never a 500, and the
raw delivery is stored with its verdict before the answer.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.builders import AGENT_ID, Console, encode, make_status, sign

INT64_MAX = 2**63 - 1


async def _post(console: Console, body: bytes, msg_id: str, **overrides: str) -> httpx.Response:
    return await console.post_webhook(body, sign(body, msg_id=msg_id) | overrides)


async def _stored(console: Console, msg_id: str) -> list[dict]:
    return [d for d in (await console.get("/api/deliveries")).json()["deliveries"] if d["webhook_id"] == msg_id]


@pytest.mark.parametrize(
    "body",
    [
        make_status(INT64_MAX + 1),
        make_status(7301, sequence=INT64_MAX + 1),
        make_status(7302, round=INT64_MAX + 1),
        make_status(INT64_MAX + 1, round=0),  # refused for round 0: the refusal path stores the task_id hint
    ],
    ids=["task_id", "sequence", "round", "task_id-in-refused-body"],
)
async def test_webhook_integer_beyond_int64_refused_400_and_stored(console: Console, body: dict):
    """Regression: OverflowError inside SQLite binding -> 500, and nothing is stored (the delivery is lost)."""
    response = await _post(console, encode(body), "msg_big_int")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_body"
    [stored] = await _stored(console, "msg_big_int")
    assert stored["verdict"] == "bad_body"


async def test_webhook_deeply_nested_body_refused_400_and_stored(console: Console):
    """Regression: RecursionError in ``ingest._task_id_hint`` (json.loads) -> 500, nothing stored."""
    body = b"[" * 100_000 + b"]" * 100_000  # 200 kB, under the 1 MB limit
    response = await _post(console, body, "msg_deep")
    assert response.status_code == 400, response.text
    [stored] = await _stored(console, "msg_deep")
    assert stored["verdict"] == "bad_body"
    assert stored["body_length"] == len(body) and stored["body_stored"] == 4096


async def test_webhook_deeply_nested_result_refused_400_and_stored(console: Console):
    """A run status whose ``result`` nests 5000 deep: pydantic refuses it, then the task_id hint crashes -> 500."""
    status = make_status(7303, status="completed", sequence=9)
    text = json.dumps(status).replace('"result": null', '"result": ' + "[" * 5000 + "]" * 5000)
    response = await _post(console, text.encode(), "msg_deep_result")
    assert response.status_code == 400, response.text
    [stored] = await _stored(console, "msg_deep_result")
    assert stored["verdict"] == "bad_body"


async def test_webhook_valid_v1_signature_next_to_v1a_entry_accepted(console: Console):
    """Standard Webhooks allows several signatures, and ``v1a,<base64>`` (asymmetric) is a defined form.

    Before the fix the whole delivery is refused 400 bad_headers although its ``v1`` signature is
    valid, so a platform that also sends v1a signatures can never deliver.
    """
    body = encode(make_status(7304))
    headers = sign(body, msg_id="msg_v1a")
    v1a = "v1a," + base64.b64encode(b"\x01" * 64).decode()
    response = await _post(console, body, "msg_v1a", **{"webhook-signature": f"{v1a} {headers['webhook-signature']}"})
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "applied"


async def test_webhook_duplicate_tool_call_ids_in_round_refused(console: Console):
    """Contract: tool_call_id is unique inside its task. Before the fix the round is opened with two calls named
    ``call_x``, and ``POST /api/rounds/{id}/responses`` with ONE result for the two calls passes the
    "exactly one result per call" check."""
    calls = [
        {"id": "call_x", "name": "get_weather", "arguments": {"city": "Oslo"}},
        {"id": "call_x", "name": "get_weather", "arguments": {"city": "Rome"}},
    ]
    response = await _post(console, encode(make_status(7305, tool_calls=calls)), "msg_dup_calls")
    assert response.status_code == 400, response.text
    assert "call_x" in response.json()["error"]["message"]
    assert await console.pending() == []


@pytest.mark.parametrize(
    "body",
    [make_status(7306, tool_calls=[]), make_status(7306, round=None)],
    ids=["empty-tool_calls", "no-round"],
)
async def test_webhook_awaiting_without_round_or_calls_refused(console: Console, body: dict):
    """Contract: when awaiting, ``round`` is a positive integer and ``tool_calls`` is present and non-empty.

    Before the fix it is applied: the run shows ``awaiting_tool_calls`` but no round exists, so the
    inbox is empty and nobody can ever answer it; the sender got 200 and will not resend."""
    response = await _post(console, encode(body), "msg_awaiting_nothing")
    assert response.status_code == 400, response.text
    assert (await console.get("/api/runs/7306")).status_code == 404


async def test_webhook_boolean_task_id_refused(console: Console):
    """Contract: task_id is a positive integer. Before the fix ``"task_id": true`` is coerced to 1 and applied to run 1."""
    response = await _post(console, encode(make_status(True)), "msg_bool_task")  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    assert (await console.get("/api/runs/1")).status_code == 404


async def test_webhook_missing_sequence_refused_not_silently_history(console: Console):
    """``sequence`` defaults to 0 when absent, so a terminal status without it is answered 200 "history"
    and dropped for good (the sender will not retry). It should be refused 400 naming ``sequence``."""
    assert (await _post(console, encode(make_status(7307, sequence=3)), "msg_seq_3")).status_code == 200
    completed = make_status(7307, status="completed", result="done")
    del completed["sequence"]
    response = await _post(console, encode(completed), "msg_seq_missing")
    assert response.status_code == 400, response.text
    assert "sequence" in response.json()["error"]["message"]


async def test_webhook_route_wrong_method_is_405_in_contract_shape(console: Console):
    response = await console.get("/webhooks/sudoiq")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_webhook_applies_awaiting_round(console):
    body = encode(make_status(7001))
    response = await console.post_webhook(body, sign(body, msg_id="msg_1"))
    assert response.status_code == 200, response.text
    rounds = (await console.get("/api/rounds", params={"state": "pending"})).json()
    assert [(r["task_id"], r["agent_id"], r["round"]) for r in rounds] == [(7001, AGENT_ID, 1)]


async def test_webhook_result_nested_300_deep_refused_400(console: Console):
    """A status nesting 300 deep outside a tool call's arguments is refused as before (pages and the API could not
    write it back); only arguments that deep are kept, as text."""
    result: dict = {}
    for _ in range(300):
        result = {"a": result}
    response = await _post(console, encode(make_status(7305, status="completed", sequence=9, result=result)), "m_r")
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["error"]["message"]


async def test_webhook_repeat_with_the_same_body_keeps_it_once(console: Console):
    """A captured delivery sent again and again (within its timestamp's tolerance) stores the body once: each repeat
    keeps its first 4 KB, length and SHA-256, and names the delivery that holds it."""
    body = encode(make_status(7101, result="x" * 50_000, status="completed", sequence=4))
    headers = sign(body, msg_id="msg_repeat_same")
    for _ in range(3):
        assert (await console.post_webhook(body, headers)).status_code == 200
    listed = (await console.get("/api/deliveries", params={"task_id": 7101})).json()["deliveries"]
    [first] = [d for d in listed if d["verdict"] == "applied"]
    repeats = [d for d in listed if d["verdict"] == "duplicate"]

    assert len(repeats) == 2
    for repeat in repeats:
        assert repeat["body_stored"] == 4096 and repeat["body_length"] == len(body)
        assert repeat["body_sha256"] == first["body_sha256"]
        assert f"delivery {first['id']}, the same body, kept there" in repeat["message"]
        assert repeat["body_note"]  # the page says the body shown is not the whole of it
    assert (await console.get(f"/api/deliveries/{first['id']}")).json()["body"] == body.decode()


async def test_webhook_long_header_values_are_stored_cut_with_their_length(console: Console):
    """Six headers are kept; each value at most 1,024 characters, the signature checked on the whole one."""
    body = encode(make_status(7920))
    headers = sign(body, msg_id="m_7920")
    signature = headers["webhook-signature"]
    v1a = "v1a," + base64.b64encode(b"\x01" * 64).decode()  # 92 characters, another scheme's signature
    headers |= {"webhook-signature": " ".join([signature, *[v1a] * 100]), "user-agent": "u" * 50_000}
    length = len(signature) + 100 * 93
    assert (await console.post_webhook(body, headers)).status_code == 200  # the v1 entry among them verifies
    [stored] = (await console.get("/api/deliveries", params={"task_id": 7920})).json()["deliveries"]
    kept = stored["headers"]
    assert kept["user-agent"] == "u" * 1_024 + "… (50,000 characters)"
    assert kept["webhook-signature"] == headers["webhook-signature"][:1_024] + f"… ({length:,} characters)"
    assert kept["webhook-id"] == "m_7920"


async def test_webhook_repeat_with_another_body_keeps_4_kb_and_says_the_body_changed(console: Console):
    """The same webhook-id with a new body (a sender re-rendering a retry, or one holding the secret) is recorded
    with its first 4 KB, length and SHA-256, not its whole body each time; replaying that stub is refused."""
    first_body = encode(make_status(7102, result="a" * 50_000, status="completed", sequence=4))
    assert (await console.post_webhook(first_body, sign(first_body, msg_id="msg_repeat_other"))).status_code == 200
    bodies = [encode(make_status(7102, result=c * 50_000, status="completed", sequence=4)) for c in "bc"]
    for body in bodies:
        assert (await console.post_webhook(body, sign(body, msg_id="msg_repeat_other"))).json()[
            "verdict"
        ] == "duplicate"
    listed = (await console.get("/api/deliveries", params={"task_id": 7102})).json()["deliveries"]
    [first] = [d for d in listed if d["verdict"] == "applied"]
    repeats = [d for d in listed if d["verdict"] == "duplicate"]
    assert len(repeats) == 2
    for repeat in repeats:
        assert repeat["body_stored"] == 4096 and repeat["body_length"] == len(bodies[0])
        assert repeat["body_sha256"] != first["body_sha256"]
        assert f"(delivery {first['id']}) with another body" in repeat["message"]
    replay = await console.post(f"/api/deliveries/{repeats[0]['id']}/replay", json={})
    assert replay.status_code == 409 and "keeps only the first 4,096" in replay.json()["error"]["message"]
    assert (await console.post(f"/api/deliveries/{first['id']}/replay", json={})).status_code == 200
