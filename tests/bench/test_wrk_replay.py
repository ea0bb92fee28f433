"""The benchmark's load pieces at tiny scale against the real console (``python -m app``): the deliveries signed
ahead of time into wrk's file are accepted with the console's secret, and wrk with ``bench/replay.lua`` sends
them, its summary line parses, and it counts what the console stored.

No figure is asserted: speed belongs to ``make bench``. The wrk test is skipped where wrk is not installed
(``make bench`` installs it).
"""

from __future__ import annotations

import base64
import secrets
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from ingest import PYTHON, WEBHOOK_PATH, Server, Workload, clean_env, free_port  # noqa: E402
from wrk_replay import run_wrk, write_deliveries  # noqa: E402

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
STORED = "SELECT webhook_id FROM delivery WHERE verdict IN ('applied', 'history')"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """The console as ``make run`` starts it, on a free port with its own SQLite file; and that file."""
    workdir = tmp_path_factory.mktemp("bench-console")
    database = workdir / "console.db"
    port = free_port()
    server = Server.start(
        "console",
        [PYTHON, "-m", "app", "--port", str(port)],
        cwd=workdir,
        env=clean_env(
            TOOLDESK_DATABASE_URL=f"sqlite:///{database}",
            TOOLDESK_WEBHOOK_SECRET=SECRET,
            TOOLDESK_AUTH="off",
            PYTHONPATH=str(ROOT),
        ),
        port=port,
    )
    try:
        server.wait_ready("/api/runs?per_page=1", expect=200)
        yield server, database
    finally:
        server.stop()


def _lines(path: Path) -> list[tuple[str, str, str, bytes]]:
    rows = []
    for line in path.read_bytes().splitlines():
        webhook_id, stamp, signature, body = line.split(b"\t", 3)
        rows.append((webhook_id.decode(), stamp.decode(), signature.decode(), body))
    return rows


def _stored(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return {row[0] for row in connection.execute(STORED)}


def test_pre_signed_deliveries_are_stored_by_the_console_and_a_swapped_signature_is_refused(
    console: tuple[Server, Path], tmp_path: Path
) -> None:
    server, database = console
    path = tmp_path / "deliveries.tsv"
    assert write_deliveries(path, Workload(next_task=6_100_001).make(8), secret=SECRET) == 8
    lines = _lines(path)

    answers = []
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
        for webhook_id, stamp, signature, body in lines:
            headers = {"webhook-id": webhook_id, "webhook-timestamp": stamp, "webhook-signature": signature}
            answers.append(
                client.post(WEBHOOK_PATH, content=body, headers=headers | {"content-type": "application/json"})
            )
        first, second = lines[0], lines[1]
        swapped = {"webhook-id": second[0], "webhook-timestamp": second[1], "webhook-signature": first[2]}
        refused = client.post(WEBHOOK_PATH, content=second[3], headers=swapped | {"content-type": "application/json"})

    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert {webhook_id for webhook_id, *_ in lines} <= _stored(database)
    assert refused.status_code == 401, refused.text


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench installs it)")
@pytest.mark.parametrize("rate", [None, 200.0], ids=["as fast as answers come", "paced"])
def test_wrk_replays_the_file_and_its_summary_counts_what_the_console_stored(
    console: tuple[Server, Path], tmp_path: Path, rate: float | None
) -> None:
    server, database = console
    path = tmp_path / "deliveries.tsv"
    write_deliveries(path, Workload(next_task=6_200_001 if rate is None else 6_300_001).make(4000), secret=SECRET)
    ours = {webhook_id for webhook_id, *_ in _lines(path)}

    summary = run_wrk(server.base_url + WEBHOOK_PATH, path, connections=2, seconds=1, rate=rate)
    stored = _stored(database) & ours

    assert summary.requests > 0
    assert summary.statuses == {200: summary.requests}, summary
    assert summary.non2xx == 0 and summary.socket_errors == 0 and summary.exhausted == 0, summary
    # every answered delivery was committed first; those still in flight when wrk stopped may be stored too
    assert summary.requests <= len(stored) <= summary.sent, (summary, len(stored))
