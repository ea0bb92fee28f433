"""Every delivery is acknowledged only after the commit that holds it (issue 10, "Ingest"; contract, "Webhook
delivery": "answer 2xx only after the delivery is stored durably"), also with group commit: the console is killed
(``kill -9``) while many deliveries are in flight, and every webhook-id it answered 2xx is in its SQLite file."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.builders import SECRET, encode, free_port, make_status, sign
from tests.e2e.processes import Start, crash, processes, wait_until
from tests.e2e.support import AUTH

__all__ = ["processes"]  # the fixture, used by name

SENDERS = 16
DELIVERIES = 4000
KILL_AFTER = 300
"""Acknowledged deliveries before the kill: the console is then busy with batches, far from done."""


def test_console_killed_mid_batch_every_acknowledged_delivery_is_stored(processes: Start, tmp_path: Path):
    port = free_port()
    database = tmp_path / "crash.db"
    console = processes(
        [],
        "console.log",
        {
            "TOOLDESK_PORT": str(port),
            "TOOLDESK_DATABASE_URL": f"sqlite:///{database}",
            "TOOLDESK_WEBHOOK_SECRET": SECRET,
            "TOOLDESK_AUTH": "off",
        },
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/sim/v1/agents", headers=AUTH, timeout=5).status_code == 200, "start", 180)
    bodies = [
        (f"msg_crash_{n}", encode(make_status(900_000 + n, status="running", sequence=1))) for n in range(DELIVERIES)
    ]
    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def send(share: list[tuple[str, bytes]]) -> None:
        with httpx.Client(base_url=base, timeout=10) as client:
            for webhook_id, body in share:
                try:
                    answer = client.post("/webhooks/sudoiq", content=body, headers=sign(body, msg_id=webhook_id))
                except httpx.TransportError:
                    return  # the console is gone
                if answer.is_success:
                    with lock:
                        acknowledged.append(webhook_id)
                        if len(acknowledged) >= KILL_AFTER:
                            enough.set()

    with ThreadPoolExecutor(SENDERS) as pool:
        sent = [pool.submit(send, bodies[n::SENDERS]) for n in range(SENDERS)]
        assert enough.wait(120), "the console did not acknowledge enough deliveries"
        crash(console)
        for future in sent:
            future.result()

    assert len(acknowledged) < DELIVERIES, "every delivery was answered before the kill: nothing was in flight"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        stored = dict(db.execute("SELECT webhook_id, verdict FROM delivery").fetchall())
        runs = {row[0] for row in db.execute("SELECT task_id FROM run")}
    missing = [webhook_id for webhook_id in acknowledged if webhook_id not in stored]
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged deliveries are not stored"
    assert {stored[webhook_id] for webhook_id in acknowledged} == {"applied"}
    assert {900_000 + int(webhook_id.rsplit("_", 1)[1]) for webhook_id in acknowledged} <= runs
