"""Downloads in a real browser: Export as Python and Export config save a file, and the page stays where it was
(no navigation, no reload, no 404)."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.support import Console, assert_same_document, mark_document, open_path


def test_export_python_and_config_download_and_page_stays(page: Page, server: Console, tmp_path: Path):
    clock = server.agent_id("Clock")
    saved = server.http.post(
        "/api/handlers",
        json={"agent_id": clock, "tool_name": "get_current_time", "kind": "static", "spec": {"output": "12:00"}},
    ).json()
    try:
        open_path(page, "/handlers")
        mark_document(page)
        url = page.url

        with page.expect_download() as python_download:
            page.get_by_role("button", name="Export as Python").click()
        download = python_download.value
        assert download.suggested_filename == "clock_tools.py"
        source = Path(download.path()).read_text()
        assert "async def get_current_time(args" in source and "tools = {" in source

        with page.expect_download() as config_download:
            page.get_by_role("button", name="Export config").click()
        assert config_download.value.suggested_filename == "tooldesk-config.json"
        document = json.loads(Path(config_download.value.path()).read_text())
        assert any(h["tool_name"] == "get_current_time" for h in document["handlers"])

        assert page.url == url
        assert_same_document(page)
        expect(page.get_by_role("button", name="Import config")).to_be_visible()
        expect(page.get_by_text("404")).to_have_count(0)
    finally:
        server.http.delete(f"/api/handlers/{saved['id']}")
