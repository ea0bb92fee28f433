"""A scenario folder with one more agent, played by the embedded simulator: a round whose arguments do not parse
(case C10). Import the fixture into a test module to use it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.config import get_settings

SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
UNPARSED = "3f1c2a7e-5b8d-4e0a-9c61-0c1e2d3a4c10"
TRUNCATED = '{"city": "Os'
NOT_AN_OBJECT = '"null"'


@pytest.fixture
def unparsed_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo agents plus one whose only round has two calls with unparsable arguments; its agent_id."""
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, folder)
    scenario = {
        "agent_id": UNPARSED,
        "name": "Unparsed",
        "description": "A round whose arguments do not parse (case C10).",
        "tools": [{"name": "get_weather", "parameters": {"type": "object"}}],
        "steps": [
            {
                "calls": [
                    {"tool": "get_weather", "as": "cut", "arguments": TRUNCATED},
                    {"tool": "get_weather", "as": "null", "arguments": NOT_AN_OBJECT},
                ]
            }
        ],
        "result": "cut: {{ outputs.cut }} ({{ errors.cut }}) | null: {{ outputs.null }} ({{ errors.null }})",
    }
    (folder / "unparsed.json").write_text(json.dumps(scenario), encoding="utf-8")
    monkeypatch.setenv("TOOLDESK_SCENARIOS_DIR", str(folder))
    get_settings.cache_clear()
    return UNPARSED
