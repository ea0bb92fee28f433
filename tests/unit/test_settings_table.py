"""The settings table: made from ``Settings``, printed by ``python -m app settings``, copied in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.__main__ import main
from app.config import Settings, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_is_settings_table():
    section = README.read_text(encoding="utf-8").split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert table == settings_table(), "README's Settings table differs: paste `python -m app settings` over it"


def test_settings_command_prints_table(capsys: pytest.CaptureFixture[str]):
    assert main(["settings"]) == 0
    assert capsys.readouterr().out == settings_table()


def test_settings_table_defaults_read_back_as_defaults(monkeypatch: pytest.MonkeyPatch):
    """Every default shown as a value, set as that variable, gives the setting its default."""
    rows = [line.split(" | ") for line in settings_table().splitlines()[2:]]
    shown = {row[0].strip("| `"): row[1] for row in rows if re.fullmatch(r"`[^`]+`", row[1])}
    assert "TOOLDESK_RETRY_SCHEDULE" in shown and "TOOLDESK_PUBLIC_URL" not in shown
    for variable, text in shown.items():
        monkeypatch.setenv(variable, text.strip("`"))
    settings = Settings()
    for variable in shown:
        name = variable.removeprefix("TOOLDESK_").lower()
        assert getattr(settings, name) == Settings.model_fields[name].get_default(call_default_factory=True), variable
