"""How a batch of deliveries reads what the store already holds (``app.services.ingest_store``)."""

from __future__ import annotations

from typing import Any

import pytest

from app.db import make_engine
from app.protocol import RunStatus
from app.services import ingest_store
from app.webhooks.verify import Verified
from tests.builders import make_status


class Recording:
    """A cursor that keeps the statements it runs."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.seen: list[tuple[str, Any]] = []

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        self.seen.append((sql, parameters))
        return self.cursor.execute(sql, parameters)


@pytest.mark.parametrize("size", [1, 40, 256])
def test_stored_webhook_ids_of_a_batch_read_through_the_webhook_id_index(database_url: str, size: int):
    """A batch as large as the writer takes reads its webhook-ids by index: with the verdict in the query, SQLite's
    planner chose the index on ``verdict`` for 40 ids and more, reading every applied delivery ever stored."""
    engine = make_engine(database_url)
    status = RunStatus.model_validate(make_status(9001, status="running", sequence=1))
    checked = [Verified(webhook_id=f"msg_{n}", status=status) for n in range(size)]
    raw = engine.raw_connection()
    try:
        recording = Recording(raw.cursor())
        assert ingest_store._stored_ids(recording, checked) == set()
        [(sql, parameters)] = recording.seen
        plan = " ".join(row[3] for row in raw.cursor().execute(f"EXPLAIN QUERY PLAN {sql}", parameters))
    finally:
        raw.close()
        engine.dispose()
    assert "SEARCH delivery USING INDEX" in plan and "(webhook_id=?)" in plan and "verdict" not in plan, plan
