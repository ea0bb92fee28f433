"""The Runs page's preview rows are HTML-escaped: an agent's name or environment comes from the platform."""

from __future__ import annotations

from app.ui.pages.runs import COLUMNS
from app.ui.pages.runs_preview import preview_html
from app.ui.pages.runs_rows import table_row


def test_values_are_escaped_and_task_id_links_to_its_run():
    row = table_row(
        task_id=9007199254740993,
        agent='<img src=x onerror="alert(1)">',
        status="running",
        round_=2,
        environment="</table><script>alert(2)</script>",
        started_by="a&b",
        created_at=0.0,
        updated_at=0.0,
    )
    html = preview_html([row], COLUMNS)

    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "&lt;/table&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "a&amp;b" in html
    assert '<a href="/runs/9007199254740993">9007199254740993</a>' in html  # C11: every digit, no rounding


def test_no_rows_no_preview():
    assert preview_html([], COLUMNS) == ""
