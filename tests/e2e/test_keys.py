"""Keys in a real browser: single-letter keys act on the page, never while typing in a code editor."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.support import Console, open_path


def test_question_mark_in_code_editor_types_instead_of_opening_help(page: Page, server: Console):
    open_path(page, "/handlers")
    page.get_by_text("get_current_time").first.click()
    page.get_by_role("button", name="python").click()  # the Python kind: a CodeMirror editor
    # the Python editor, once drawn: before that, the first editor on the page is the Test section's arguments
    editor = page.locator('.cm-content[data-language="python"]:visible').first
    expect(editor).to_contain_text("def handle")
    editor.click()
    page.keyboard.type("# why? /path")
    expect(editor).to_contain_text("# why? /path")
    expect(page.get_by_text("this list")).to_have_count(0)  # the keys dialog did not open
    assert page.url.endswith("/handlers")

    page.evaluate("document.activeElement.blur()")  # out of the editor: the page has the keys again
    page.keyboard.press("?")
    expect(page.get_by_text("this list")).to_be_visible()
