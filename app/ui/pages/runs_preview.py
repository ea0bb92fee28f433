"""The Runs page's first rows as plain HTML in the page's first response: on screen, readable and their links
working, before the browser has started the page's scripts.

A NiceGUI page is drawn by Vue, Quasar and Tailwind in the browser; on a warm cache those take 0.6 to 0.9 s on a
2-CPU machine before anything of the page shows, however fast the server answered (issue 10, "runs page, 100,000
runs: first row ≤ 500 ms"). The default view's first page is read while the page is built anyway
(``app.ui.pages.runs_rows.first_page``), so the same rows also go into the HTML, as a table laid out where the
page's own table will be. The page's own elements replace it as soon as they are drawn: a style hides the preview
once ``#app`` has content, and the page removes it once connected (for a browser without ``:has``). It is set in
the system's font, not the page's Roboto: the page's font face blocks text until the font has loaded, and the
preview is there for when the page's files are slow. Only a page's first response gets one: moving to Runs within
an open tab draws the page's own table at once.

Every value is HTML-escaped (MarkupSafe, Jinja2's own escaping): a run's agent name or environment comes from the
platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

PREVIEW_ID = "runs-preview"

STYLE = f"""
<style>
  body:has(#app > *) #{PREVIEW_ID} {{ display: none; }}
  #{PREVIEW_ID} {{ position: absolute; inset: 0 0 auto 0; font-family: system-ui, -apple-system, "Helvetica Neue",
    Arial, sans-serif; color: rgba(0, 0, 0, 0.87); font-size: 14px; }}
  #{PREVIEW_ID} .bar {{ height: 84px; border-bottom: 1px solid rgba(0, 0, 0, 0.12); box-sizing: border-box;
    padding: 14px 24px; font-size: 18px; font-weight: 700; color: #1f2937; }}
  #{PREVIEW_ID} main {{ max-width: 1166px; margin: 0 auto; padding: 24px 16px; }}
  #{PREVIEW_ID} h1 {{ font-size: 24px; font-weight: 700; margin: 12px 0 69px 0; line-height: 32px; }}
  #{PREVIEW_ID} table {{ width: 100%; border: 1px solid rgba(0, 0, 0, 0.12); border-radius: 4px;
    border-collapse: separate; border-spacing: 0; }}
  #{PREVIEW_ID} th {{ font-size: 12px; font-weight: 500; text-align: left; height: 55px; padding: 0 16px; }}
  #{PREVIEW_ID} td {{ font-size: 13px; height: 54px; padding: 0 16px; border-top: 1px solid rgba(0, 0, 0, 0.12);
    white-space: nowrap; }}
  #{PREVIEW_ID} a {{ color: inherit; text-decoration: none; }}
</style>
"""


def preview_html(rows: Sequence[dict[str, str]], columns: Sequence[dict[str, Any]]) -> str:
    """The preview of the Runs page: its title and a table of ``rows`` (``runs_rows.table_row`` dicts) with
    ``columns`` (the page's ``COLUMNS``: ``label`` and ``field``); each row's task_id links to its run page.
    Empty when there is no row (the page's own "no runs" text says it)."""
    if not rows:
        return ""
    head = "".join(f"<th>{escape(column['label'])}</th>" for column in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td><a href="/runs/{escape(row["task_id"])}">{escape(row["task_id"])}</a></td>'
            if column["field"] == "task_id"
            else f"<td>{escape(row.get(column['field'], ''))}</td>"
            for column in columns
        )
        + "</tr>"
        for row in rows
    )
    return str(
        Markup(STYLE)
        + Markup(f'<div id="{PREVIEW_ID}"><div class="bar">Tooldesk</div><main><h1>Runs</h1>')
        + Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></main></div>")
    )
