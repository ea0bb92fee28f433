"""Thinning refused deliveries: old ones and those beyond the newest N go, verified ones never do."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from app.db import make_engine
from app.services.deliveries import Retention, thin_refused_deliveries
from app.services.ingest import ingest_delivery
from tests.builders import SECRET, encode, make_status, sign, wait_for


def _engine(database_url: str) -> Engine:
    return make_engine(database_url)


def _deliver(engine: Engine, task_id: int, *, forged: bool) -> int:
    body = encode(make_status(task_id))
    headers = sign(body, msg_id=f"m_{task_id}_{forged}")
    if forged:
        headers["webhook-signature"] = "v1,AAAA"
    return ingest_delivery(engine=engine, secret=SECRET, body=body, headers=headers).delivery_id


def _age(engine: Engine, hours: float) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE delivery SET received_at = received_at - :s"), {"s": hours * 3600})


def _verdicts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT verdict FROM delivery ORDER BY id"))]


def test_thin_removes_old_refused_and_never_verified(database_url: str):
    engine = _engine(database_url)
    _deliver(engine, 7501, forged=False)
    _deliver(engine, 7502, forged=True)
    _age(engine, 200)
    _deliver(engine, 7503, forged=True)
    removed = thin_refused_deliveries(engine=engine, older_than=time.time() - 168 * 3600, keep=1000)
    assert removed == 1
    assert _verdicts(engine) == ["applied", "bad_signature"]


def test_thin_keeps_only_the_newest_refused(database_url: str):
    engine = _engine(database_url)
    for task_id in range(7511, 7516):
        _deliver(engine, task_id, forged=True)
    _deliver(engine, 7520, forged=False)
    assert thin_refused_deliveries(engine=engine, older_than=0, keep=2) == 3
    assert _verdicts(engine) == ["bad_signature", "bad_signature", "applied"]


async def test_retention_thins_in_the_background_once_started(database_url: str):
    engine = _engine(database_url)
    _deliver(engine, 7531, forged=True)
    _deliver(engine, 7532, forged=False)
    _age(engine, 2)
    retention = Retention(engine=engine, hours=1, keep=100, every=0.05)
    retention.start()
    try:
        await wait_for(lambda: _verdicts(engine) == ["applied"])
    finally:
        await retention.aclose()
