"""The webhook when the database cannot be used: 503 ``database_unavailable`` with ``Retry-After``, as the API
answers (``app.api.common.database_error_handler``), never a 500; the platform sends the delivery again."""

from __future__ import annotations

import pytest

from tests import postgres
from tests.builders import Console, encode, make_status, sign, start_done


@pytest.mark.postgresql_only("takes the PostgreSQL database away under the console")
async def test_webhook_answers_503_with_retry_after_while_the_database_is_gone(
    console: Console, request: pytest.FixtureRequest, database_url: str
):
    cluster: postgres.Cluster = request.getfixturevalue("postgres_cluster")
    await start_done()  # their own database work is not the webhook's
    body = encode(make_status(7601, status="running", sequence=1))
    with cluster.taken_away(database_url.rsplit("/", 1)[1]):
        response = await console.post_webhook(body, sign(body, msg_id="msg_db_gone"))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "5"

    again = await console.post_webhook(body, sign(body, msg_id="msg_db_gone"))  # the platform's retry, once it is back
    assert again.status_code == 200, again.text
    assert again.json() == {"ok": True, "verdict": "applied"}
