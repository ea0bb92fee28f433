"""Export as Python: the generated module answers like the console's handlers, through the SDK's tools shape."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app.db import make_engine
from app.errors import NotFound
from app.services import handler_store
from app.services.export_python import export_python, python_module_name
from tests.builders import TRIP

AGENT = TRIP
MODULE = "exported_tools_under_test"

WEATHER_RULES = {
    "rules": [
        {
            "name": "wet",
            "when": [{"kind": "regex", "path": "city", "value": "^Berg"}],
            "response": {"output": "Rain in {{ args.city }} for task {{ task_id }}"},
        },
        {
            "when": [
                {"kind": "equals", "path": "where.zip", "value": 5003},
                {"kind": "jmespath", "value": "length(days) > `1`"},
            ],
            "response": {"output": {"city": "{{ args.where.zip }}", "days": 2}},
        },
        {"name": "broken", "when": [{"kind": "any"}, {"kind": "equals", "path": "city", "value": "Oslo"}]},
    ],
}
LOOKUP = '''from __future__ import annotations

from pydantic import BaseModel

HELPER = "lookup"


class Args(BaseModel):
    city: str
    days: int = 1


async def handle(args: dict, agent_id: str, task_id: int) -> str:
    """Say "which" helper answered."""
    return {"helper": HELPER, "city": args["city"], "days": args["days"], "task": task_id}
'''
QUOTE = 'import json\nHELPER = "quote"\n\ndef handle(args, agent_id, task_id):\n    return "\\\\ " + HELPER\n'


def save(engine: Engine, tool_name: str, kind: str, spec: dict[str, Any], **extra: Any) -> None:
    handler = handler_store.HandlerIn(agent_id=AGENT, tool_name=tool_name, kind=kind, spec=spec, **extra)
    handler_store.save_handler(engine=engine, handler=handler)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/export.db")
    save(engine, "get_current_time", "static", {"output": "12:00 UTC"}, mode="auto")
    save(engine, "search-flights", "static", {"output": {"flight": "SK 4609", "seats": [1, 2], "ok": True}})
    save(engine, "maintenance", "static", {"output": "down for maintenance", "is_error": True})
    save(engine, "get_weather", "rules", WEATHER_RULES, mode="suggest")
    save(engine, "lookup", "python", {"code": LOOKUP})
    save(engine, "print", "python", {"code": QUOTE})
    return engine


@pytest.fixture
def tools(engine: Engine) -> Iterator[dict[str, Any]]:
    yield load(export_python(engine=engine, agent_id=AGENT))
    for name in [name for name in sys.modules if name.startswith(MODULE)]:
        del sys.modules[name]


def load(source: str) -> dict[str, Any]:
    """Run the generated module in a fresh namespace, as an import would; returns its ``tools``."""
    namespace: dict[str, Any] = {"__name__": MODULE}
    exec(compile(source, f"{MODULE}.py", "exec"), namespace)
    return namespace["tools"]


def call(tools: dict[str, Any], name: str, args: dict[str, Any], task_id: int = 1042) -> str:
    _model, function = tools[name]
    return asyncio.run(function(args, AGENT, task_id))


def test_export_static_returns_output(tools: dict[str, Any]):
    assert call(tools, "get_current_time", {}) == "12:00 UTC"
    assert json.loads(call(tools, "search-flights", {})) == {"flight": "SK 4609", "seats": [1, 2], "ok": True}
    assert tools["get_current_time"][0] is None


def test_export_static_error_raises(tools: dict[str, Any]):
    with pytest.raises(RuntimeError, match=r"^down for maintenance$"):
        call(tools, "maintenance", {})


def test_export_rules_match_renders_template(tools: dict[str, Any]):
    assert call(tools, "get_weather", {"city": "Bergen"}, task_id=7) == "Rain in Bergen for task 7"
    out = call(tools, "get_weather", {"where": {"zip": 5003.0}, "days": ["mon", "tue"]})
    assert json.loads(out) == {"city": "5003.0", "days": 2}


def test_export_rules_no_match_raises_nearest(tools: dict[str, Any]):
    with pytest.raises(RuntimeError) as caught:
        call(tools, "get_weather", {"city": "Trondheim"})
    assert str(caught.value) == (
        "no rule matched the arguments; nearest is rule 3 (broken), 1 of 2 conditions match: "
        "city: expected 'Oslo', got 'Trondheim'"
    )


def test_export_rules_equals_strict_types(tools: dict[str, Any]):
    with pytest.raises(RuntimeError, match="no rule matched"):
        call(tools, "get_weather", {"where": {"zip": "5003"}, "days": [1, 2]})  # "5003" != 5003


def test_export_python_returns_json_encoded(tools: dict[str, Any]):
    out = call(tools, "lookup", {"city": "Oslo"}, task_id=9)
    assert json.loads(out) == {"helper": "lookup", "city": "Oslo", "days": 1, "task": 9}
    assert call(tools, "print", {}) == "\\ quote"  # snippets keep their own HELPER, backslashes intact


def test_export_python_args_model_in_pair(tools: dict[str, Any]):
    model, function = tools["lookup"]
    assert model is not None and model.__name__ == "Args"
    assert set(model.model_fields) == {"city", "days"}
    out = asyncio.run(function(model(city="Rome", days=3), AGENT, 1))  # already validated by the SDK
    assert json.loads(out)["days"] == 3
    with pytest.raises(ValueError, match="city"):
        call(tools, "lookup", {"days": 2})
    assert tools["print"][0] is None


def test_export_tool_name_not_identifier_keeps_key(engine: Engine):
    source = export_python(engine=engine, agent_id=AGENT)
    assert "async def search_flights(args: dict, agent_id: str, task_id: int) -> str:" in source
    assert '"search-flights": (None, search_flights),' in source
    assert "async def print_tool(" in source  # never shadows a builtin


def test_export_behaviour_fail_raises(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/faults.db")
    behaviour = {"latency_ms": 1, "latency_max_ms": 3, "fail_probability": 1.0, "fail_message": "upstream timeout"}
    save(engine, "flaky", "static", {"output": "fine"}, behaviour=behaviour)
    source = export_python(engine=engine, agent_id=AGENT)
    assert "await asyncio.sleep" in source and "jinja2" not in source and "jmespath" not in source
    with pytest.raises(RuntimeError, match=r"^upstream timeout$"):
        call(load(source), "flaky", {})


def test_export_header_names_agent_and_packages(engine: Engine):
    source = export_python(engine=engine, agent_id=AGENT)
    doc = source.split('"""')[1]
    words = " ".join(doc.split())
    assert f"agent {AGENT}" in doc and "- get_weather: rules, version 1, mode suggest" in doc
    assert "from agent_3f1c2a7e_tools import tools" in doc
    assert "jinja2 (rules handlers); jmespath (rules handlers); pydantic (python handler lookup)" in words
    assert python_module_name(engine=engine, agent_id=AGENT) == "agent_3f1c2a7e_tools"


def test_export_unknown_agent_not_found(engine: Engine):
    with pytest.raises(NotFound, match="has no handlers"):
        export_python(engine=engine, agent_id="no-such-agent")


@pytest.mark.skipif(shutil.which("ruff", path=str(Path(sys.executable).parent)) is None, reason="ruff not installed")
def test_export_passes_ruff(engine: Engine, tmp_path: Path):
    path = tmp_path / "agent_tools.py"
    path.write_text(export_python(engine=engine, agent_id=AGENT), encoding="utf-8")
    ruff = str(Path(sys.executable).parent / "ruff")
    rules = "E,F,W,I,B,UP,SIM"
    checked = subprocess.run(
        [ruff, "check", "--isolated", "--select", rules, "--line-length", "120", str(path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout


def test_export_rules_runs_with_only_jinja2_and_jmespath(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/rules.db")
    save(engine, "get_weather", "rules", WEATHER_RULES)
    (tmp_path / "agent_tools.py").write_text(export_python(engine=engine, agent_id=AGENT), encoding="utf-8")
    script = f"""
import asyncio, importlib.abc, sys
ALLOWED = set(sys.stdlib_module_names) | {{"agent_tools", "jinja2", "jmespath", "markupsafe"}}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] not in ALLOWED:
            raise ImportError(f"no module named {{name!r}} here")
sys.meta_path.insert(0, Refuse())
sys.path.insert(0, {str(tmp_path)!r})
from agent_tools import tools
print(asyncio.run(tools["get_weather"][1]({{"city": "Bergen"}}, "a", 7)))
"""
    ran = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "Rain in Bergen for task 7\n", "")


def test_export_rules_sequence_and_state_counted_per_tool_and_run(engine: Engine):
    """The exported module counts in its own memory: each tool and run apart, state shared by a run's tools."""
    save(engine, "login", "rules", {"rules": [{"name": "in", "response": {"output": "hi"}, "set_state": {"in": True}}]})
    save(engine, "get_weather", "rules", {"rules": [
        {"name": "in", "when_state": {"in": True}, "response": {"output": "A{{ call_count }}"},
         "then": [{"output": "B{{ call_count }}"}], "after_end": "fail"}]})  # fmt: skip
    exported = load(export_python(engine=engine, agent_id=AGENT))

    with pytest.raises(RuntimeError, match="no rule matched"):
        call(exported, "get_weather", {}, task_id=1)
    assert call(exported, "login", {}, task_id=1) == "hi"
    assert [call(exported, "get_weather", {}, task_id=t) for t in (1, 1)] == ["A1", "B2"]
    with pytest.raises(RuntimeError, match=r"^rule 1 \(in\) has 2 answer\(s\) and then fails: this is call 3 in"):
        call(exported, "get_weather", {}, task_id=1)
    assert call(exported, "login", {}, task_id=2) == "hi"
    assert call(exported, "get_weather", {}, task_id=2) == "A1"
