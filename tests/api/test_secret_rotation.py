"""Rotating the webhook secret: deliveries signed with the previous secret are applied until its window ends,
then refused; the new secret and a header with both signatures are applied; the embedded simulator signs with the
new secret at once; the route is for admins, and refused when TOOLDESK_WEBHOOK_SECRET sets the secret.

Promise (README, "Security"): rotation from the console, Standard Webhooks' several signatures during a switch.
"""

from __future__ import annotations

import time

import httpx
import pytest

from app.runtime import Runtime
from app.services.webhook_secret import rotate_webhook_secret
from app.states import Role
from tests.builders import CLOCK, SECRET, Console, encode, make_status, make_token, sign, wait_for

OTHER_SECRET = "whsec_" + "Q" * 32


@pytest.fixture
def generated_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console makes and keeps its own secret (no TOOLDESK_WEBHOOK_SECRET); request it before ``console``."""
    monkeypatch.delenv("TOOLDESK_WEBHOOK_SECRET")


async def _rotate(console: Console, **body: float) -> httpx.Response:
    response = await console.post("/api/webhook-secret/rotate", json=body)
    assert response.status_code == 200, response.text
    return response


async def _post(console: Console, task_id: int, secret: str) -> httpx.Response:
    raw = encode(make_status(task_id))
    return await console.post_webhook(raw, sign(raw, msg_id=f"msg_{task_id}", secret=secret))


async def test_rotate_delivery_signed_with_old_secret_applied_within_window(
    generated_secret: None, console: Console, runtime: Runtime
):
    old = runtime.secret
    await _rotate(console, window_seconds=600)
    assert runtime.secret != old
    response = await _post(console, 8101, old)
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "applied"


async def test_rotate_delivery_signed_with_old_secret_refused_after_window(
    generated_secret: None, console: Console, runtime: Runtime
):
    old = runtime.secret
    rotated = rotate_webhook_secret(
        engine=runtime.engine, configured="", window_seconds=60, now=time.time() - 61
    )  # rotated 61 s ago with a 60 s window
    runtime.secret_rotated(rotated)
    response = await _post(console, 8102, old)
    assert response.status_code == 401, response.text
    message = response.json()["error"]["message"]
    assert "the previous one was accepted until" in message
    assert old not in message and rotated.current not in message


async def test_rotate_delivery_signed_with_new_secret_applied(
    generated_secret: None, console: Console, runtime: Runtime
):
    await _rotate(console)
    response = await _post(console, 8103, runtime.secret)
    assert response.json()["verdict"] == "applied", response.text


async def test_rotate_delivery_with_both_signatures_applied(generated_secret: None, console: Console, runtime: Runtime):
    old = runtime.secret
    await _rotate(console, window_seconds=600)
    raw = encode(make_status(8104))
    headers = sign(raw, msg_id="msg_both", secret=old)
    headers["webhook-signature"] += " " + sign(raw, msg_id="msg_both", secret=runtime.secret)["webhook-signature"]
    response = await console.post_webhook(raw, headers)
    assert response.json()["verdict"] == "applied", response.text


async def test_rotate_delivery_signed_with_neither_secret_names_both_tried(
    generated_secret: None, console: Console, runtime: Runtime
):
    old = runtime.secret
    await _rotate(console, window_seconds=600)
    response = await _post(console, 8105, OTHER_SECRET)
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "the current secret and the previous one (accepted until" in message
    assert old not in message and runtime.secret not in message


async def test_rotate_simulator_signs_next_run_with_new_secret(
    generated_secret: None, console: Console, runtime: Runtime
):
    await _rotate(console, window_seconds=0)  # the old secret is refused at once
    task_id = await console.start(CLOCK, {"1": "UTC"})
    [round_] = await wait_for(lambda: console.pending(task_id))
    await console.answer(round_, {"get_current_time": "2026-11-29T17:00:02Z"})
    await console.wait_for_status(task_id, "completed")
    assert runtime.simulator is not None
    assert {attempt.outcome for attempt in runtime.simulator.attempts} == {"delivered"}


async def test_rotate_answer_shows_secrets_masked(generated_secret: None, console: Console, runtime: Runtime):
    old = runtime.secret
    answer = (await _rotate(console, window_seconds=600)).json()
    assert answer["current"].endswith(runtime.secret[-4:])
    assert answer["previous"].endswith(old[-4:])
    assert answer["previous_until"] == pytest.approx(time.time() + 600, abs=30)
    assert old not in str(answer) and runtime.secret not in str(answer)


async def test_rotate_refused_when_secret_set_by_environment(console: Console, runtime: Runtime):
    response = await console.post("/api/webhook-secret/rotate", json={})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "rotation_refused"
    assert "TOOLDESK_WEBHOOK_SECRET: change it there and restart" in error["message"]
    assert runtime.secret == SECRET


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANSWERER])
async def test_rotate_below_admin_answers_403(generated_secret: None, console: Console, runtime: Runtime, role: Role):
    old = runtime.secret
    token = make_token(role=role, name=f"{role} token")
    response = await console.post("/api/webhook-secret/rotate", json={}, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert runtime.secret == old
