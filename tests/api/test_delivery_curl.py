"""*Copy as curl* (``GET /api/deliveries/{id}/curl``): the command is run for real, with curl, against a console
served by ``python -m app`` on a free port; only a delivery the platform's signature vouched for comes back
signed (case C16)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.states import Role
from tests.builders import SECRET, Console, encode, make_status, make_token, served_console, sign

REPO = Path(__file__).resolve().parents[2]
C01 = (REPO / "fixtures" / "cases" / "c01_body.json").read_bytes()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A console (``python -m app serve``) with sign-in off, the tests' secret and its own database; a client on it."""
    folder = tmp_path_factory.mktemp("curl-console")
    with (
        served_console(folder, TOOLDESK_WEBHOOK_SECRET=SECRET, TOOLDESK_AUTH="off") as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def _post(client: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post("/webhooks/sudoiq", content=body, headers=headers)


def _newest(client: httpx.Client, task_id: int) -> dict:
    return dict(client.get("/api/deliveries", params={"task_id": task_id}).json()["deliveries"][0])


def _run(command: str) -> str:
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_curl_of_verified_delivery_is_signed_and_accepted_with_exact_body(served: httpx.Client):
    assert _post(served, C01, sign(C01, msg_id="m_c01")).status_code == 200  # odd spacing, \u00e9, a newline
    original = _newest(served, json.loads(C01)["task_id"])
    made = served.get(f"/api/deliveries/{original['id']}/curl").json()
    assert made["signed"] is True and "webhook-signature: v1," in made["command"]
    assert "takes it until" in made["note"]
    answer = json.loads(_run(made["command"]))
    assert answer == {"ok": True, "verdict": "duplicate"}  # verified: a signature that did not match is a 401
    again = _newest(served, json.loads(C01)["task_id"])
    assert (again["webhook_id"], again["verdict"], again["body_sha256"]) == (
        "m_c01",
        "duplicate",
        original["body_sha256"],
    )
    stored = served.get(f"/api/deliveries/{again['id']}").json()
    assert base64.b64decode(stored["body_base64"]) == C01


def test_curl_of_refused_delivery_has_no_signature_and_is_refused_again(served: httpx.Client):
    body = encode(make_status(7901, status="completed", sequence=9, round=None, result="it's forged"))
    forged = sign(body, msg_id="m_forged") | {"webhook-signature": "v1,AAAA"}
    assert _post(served, body, forged).status_code == 401
    refused = _newest(served, 7901)
    made = served.get(f"/api/deliveries/{refused['id']}/curl").json()
    assert made["signed"] is False
    assert "webhook-signature" not in made["command"] and "webhook-timestamp" not in made["command"]
    assert "refused (bad_signature)" in made["note"] and "does not sign it" in made["note"]
    answer = json.loads(_run(made["command"]))
    assert answer["error"]["code"] == "bad_headers"
    assert served.get("/api/runs/7901").status_code == 404  # never applied


def test_curl_of_console_made_delivery_has_no_signature(served: httpx.Client):
    body = encode(make_status(7902, status="running", sequence=1, round=None))
    assert _post(served, body, sign(body, msg_id="m_7902")).status_code == 200
    original = _newest(served, 7902)
    edited = make_status(7902, status="completed", sequence=2, round=None, result="made here")
    replay = served.post(f"/api/deliveries/{original['id']}/replay", json={"body": edited}).json()
    made = served.get(f"/api/deliveries/{replay['delivery_id']}/curl").json()
    assert made["signed"] is False and "webhook-signature" not in made["command"]
    assert "made in the console" in made["note"]


async def test_curl_for_a_viewer_is_not_signed(console: Console):
    await console.deliver(make_status(7903), "m_7903")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 7903})).json()["deliveries"]
    viewer = {"Authorization": f"Bearer {make_token(role=Role.VIEWER, name='viewer')}"}
    made = (await console.get(f"/api/deliveries/{stored['id']}/curl", headers=viewer)).json()
    assert made["signed"] is False and "needs the admin role" in made["note"]
    admin = (await console.get(f"/api/deliveries/{stored['id']}/curl")).json()
    assert admin["signed"] is True
    assert admin["url"] == "http://127.0.0.1:8080/webhooks/sudoiq"


async def test_curl_of_unknown_delivery_is_404(console: Console):
    assert (await console.get("/api/deliveries/424242/curl")).status_code == 404
