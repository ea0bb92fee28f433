"""``GET /api/deliveries``: one page at a time with the total; bodies only as a short preview."""

from __future__ import annotations

from tests.builders import Console, make_status


async def test_deliveries_list_pages_with_total(console: Console):
    for sequence in range(1, 8):
        await console.deliver(make_status(7601, status="running", sequence=sequence, round=None), f"m_{sequence}")
    first = (await console.get("/api/deliveries", params={"per_page": 3})).json()
    third = (await console.get("/api/deliveries", params={"per_page": 3, "page": 3})).json()
    assert first["total"] == third["total"] == 7
    assert [d["sequence"] for d in first["deliveries"]] == [7, 6, 5]
    assert [d["sequence"] for d in third["deliveries"]] == [1]


async def test_deliveries_list_per_page_is_bounded(console: Console):
    response = await console.get("/api/deliveries", params={"per_page": 501})
    assert response.status_code == 422
    assert "per_page" in response.json()["error"]["message"]


async def test_deliveries_list_shows_body_preview_only(console: Console):
    await console.deliver(make_status(7602, note="z" * 5000), "m_long")
    [listed] = (await console.get("/api/deliveries")).json()["deliveries"]
    assert "body" not in listed and "body_base64" not in listed
    assert len(listed["body_preview"]) == 200 and listed["body_length"] > 5000
    whole = (await console.get(f"/api/deliveries/{listed['id']}")).json()
    assert len(whole["body"]) == listed["body_length"]
