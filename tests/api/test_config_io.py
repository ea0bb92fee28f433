"""Configuration export and import: one JSON document for agents and handlers, imported all-or-nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import make_engine, read_session
from app.errors import BadRequest, HandlerInvalid
from app.models import Agent, HandlerVersion
from app.runtime import Runtime
from app.services import agents, config_io, handler_store
from app.services.config_io import ConfigDocument, export_config, import_config
from tests.builders import CLOCK, TRIP, Console

WEATHER_RULES = {
    "rules": [
        {
            "name": "wet",
            "when": [{"kind": "regex", "path": "city", "value": "^Berg"}],
            "response": {"output": "Rain in {{ args.city }}"},
        }
    ],
    "default": {"output": {"sky": "clear in {{ args.city }}"}},
}
SNIPPET = 'async def handle(args, agent_id, task_id):\n    return {"quote": "ACME", "price": 12.5}\n'


def save(engine: Engine, agent_id: str, tool_name: str, kind: str, spec: dict[str, Any], **extra: Any) -> None:
    handler_store.save_handler(
        engine=engine,
        handler=handler_store.HandlerIn(agent_id=agent_id, tool_name=tool_name, kind=kind, spec=spec, **extra),
    )


def fill(engine: Engine) -> None:
    save(engine, CLOCK, "get_current_time", "static", {"output": "12:00 UTC"}, mode="auto")
    save(engine, TRIP, "get_weather", "rules", WEATHER_RULES, behaviour={"latency_ms": 10, "latency_max_ms": 50})
    save(engine, TRIP, "search_flights", "python", {"code": SNIPPET}, mode="suggest")


def document(**extra: Any) -> dict[str, Any]:
    handler = {"agent_id": CLOCK, "tool_name": "get_current_time", "kind": "static", "spec": {"output": "noon"}}
    body: dict[str, Any] = {
        "format": "tooldesk-config",
        "version": 1,
        "agents": [{"agent_id": CLOCK, "name": "Clock", "tools": [{"name": "get_current_time"}]}],
        "handlers": [handler],
    }
    body.update(extra)
    return body


def versions(engine: Engine) -> list[HandlerVersion]:
    with read_session(engine) as session:
        return list(session.exec(select(HandlerVersion)).all())


def without_time(doc: ConfigDocument) -> dict[str, Any]:
    return doc.model_dump(exclude={"exported_at"})


@pytest.fixture
def empty_engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path}/other.db")


async def test_export_import_round_trip_same_document(runtime: Runtime, empty_engine: Engine):
    await agents.sync_agents(engine=runtime.engine, client=runtime.client)
    fill(runtime.engine)
    first = export_config(engine=runtime.engine)
    assert {a.name for a in first.agents} >= {"Clock", "Trip planner"}
    assert len(first.handlers) == 3
    assert first.exported_at is not None and first.exported_at.endswith("Z")

    text = config_io.export_config_json(engine=runtime.engine)
    report = import_config(engine=empty_engine, document=text.encode())

    assert (report.agents, report.handlers_created, report.handlers_updated, report.unchanged) == (
        len(first.agents),
        3,
        0,
        0,
    )
    assert without_time(export_config(engine=empty_engine)) == without_time(first)
    assert {v.note for v in versions(empty_engine)} == {"imported"}


async def test_import_identical_counts_unchanged(runtime: Runtime):
    fill(runtime.engine)
    before = len(versions(runtime.engine))
    report = import_config(engine=runtime.engine, document=export_config(engine=runtime.engine))
    assert (report.handlers_created, report.handlers_updated, report.unchanged) == (0, 0, 3)
    assert report.summary.endswith("0 handlers created, 0 updated, 3 unchanged")
    assert len(versions(runtime.engine)) == before


def test_import_changed_handler_saves_new_version(empty_engine: Engine):
    fill(empty_engine)
    doc = export_config(engine=empty_engine).model_dump()
    doc["handlers"][0]["spec"] = {"output": "13:00 UTC", "is_error": False}  # the clock's static handler
    report = import_config(engine=empty_engine, document=doc)
    assert (report.handlers_created, report.handlers_updated, report.unchanged) == (0, 1, 2)
    clock = handler_store.list_handlers(engine=empty_engine, agent_id=CLOCK)[0]
    assert (clock.version, clock.spec["output"]) == (2, "13:00 UTC")
    assert handler_store.list_versions(engine=empty_engine, handler_id=clock.id)[0].note == "imported"


def test_import_bad_handler_changes_nothing(empty_engine: Engine):
    bad_rules = {"rules": [{"when": [{"kind": "regex", "path": "city", "value": "(unclosed"}]}]}
    doc = document()
    doc["handlers"] += [
        {"agent_id": TRIP, "tool_name": "search_flights", "kind": "static", "spec": {"output": "SK 4609"}},
        {"agent_id": TRIP, "tool_name": "get_weather", "kind": "rules", "spec": bad_rules},
    ]
    with pytest.raises(HandlerInvalid) as caught:
        import_config(engine=empty_engine, document=doc)
    assert caught.value.message.startswith(f"handlers[2] ({TRIP}/get_weather): rule 1")
    assert "bad regex" in caught.value.message and "nothing was imported" in caught.value.message
    assert handler_store.list_handlers(engine=empty_engine) == []
    with read_session(empty_engine) as session:
        assert session.exec(select(Agent)).all() == []


def test_import_bad_python_handler_names_line(empty_engine: Engine):
    doc = document(handlers=[{"agent_id": CLOCK, "tool_name": "t", "kind": "python", "spec": {"code": "def handle(:"}}])
    with pytest.raises(HandlerInvalid, match=rf"^handlers\[0\] \({CLOCK}/t\): line 1: SyntaxError"):
        import_config(engine=empty_engine, document=doc)


def test_import_duplicate_handler_refused(empty_engine: Engine):
    doc = document()
    doc["handlers"].append(dict(doc["handlers"][0]))
    with pytest.raises(HandlerInvalid, match=r"handlers\[1\] .*: the same tool as handlers\[0\]"):
        import_config(engine=empty_engine, document=doc)
    assert handler_store.list_handlers(engine=empty_engine) == []


def test_import_duplicate_agent_refused(empty_engine: Engine):
    doc = document(handlers=[])
    doc["agents"].append(dict(doc["agents"][0], name="Another clock"))
    with pytest.raises(BadRequest, match=r"^agents\[1\] \(.*\): the same agent as agents\[0\]"):
        import_config(engine=empty_engine, document=doc)
    with read_session(empty_engine) as session:
        assert session.exec(select(Agent)).all() == []


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_import_version_not_integer_one_refused(empty_engine: Engine, version: Any):
    with pytest.raises(BadRequest, match=r"^version: .* is not supported"):
        import_config(engine=empty_engine, document=document(version=version))
    assert handler_store.list_handlers(engine=empty_engine) == []


def test_import_malformed_json_names_line(empty_engine: Engine):
    text = json.dumps(document(), indent=2).replace('"version": 1,', '"version": 1')
    with pytest.raises(BadRequest, match=r"^the document is not JSON: line 4, column 3: Expecting ','"):
        import_config(engine=empty_engine, document=text.encode())


def test_import_wrong_shape_names_path(empty_engine: Engine):
    doc = document()
    doc["handlers"] += [{"agent_id": CLOCK, "tool_name": name, "kind": "static"} for name in ("a", "b")]
    doc["handlers"][2]["kind"] = "lua"
    with pytest.raises(BadRequest, match=r"^handlers\[2\]\.kind: Input should be 'static', 'rules' or 'python'"):
        import_config(engine=empty_engine, document=json.dumps(doc))
    assert handler_store.list_handlers(engine=empty_engine) == []


def test_import_unknown_field_names_path(empty_engine: Engine):
    doc = document()
    doc["agents"][0]["colour"] = "blue"
    with pytest.raises(BadRequest, match=r"^agents\[0\]\.colour: Extra inputs are not permitted"):
        import_config(engine=empty_engine, document=doc)


def test_import_other_format_refused(empty_engine: Engine):
    with pytest.raises(BadRequest, match="format: expected 'tooldesk-config', got nothing"):
        import_config(engine=empty_engine, document=b'{"agents": []}')
    with pytest.raises(BadRequest, match="version: 2 is not supported"):
        import_config(engine=empty_engine, document=document(version=2))
    with pytest.raises(BadRequest, match="the document is a JSON array, not an object"):
        import_config(engine=empty_engine, document=b"[]")


def test_import_oversized_document_refused(empty_engine: Engine, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(config_io, "MAX_DOCUMENT_BYTES", 100)
    with pytest.raises(BadRequest, match=r"^the document is \d+ bytes \(limit 100\)"):
        import_config(engine=empty_engine, document=json.dumps(document()).encode())


def test_import_not_utf8_refused(empty_engine: Engine):
    with pytest.raises(BadRequest, match="not UTF-8"):
        import_config(engine=empty_engine, document=b'{"format": "\xff"}')


async def test_config_routes_round_trip_and_python_download(console: Console, runtime: Runtime):
    await console.save_handler(
        agent_id=CLOCK, tool_name="get_current_time", kind="static", mode="auto", spec={"output": "noon"}
    )
    document = (await console.get("/api/config")).json()
    assert [(h["tool_name"], h["spec"]["output"]) for h in document["handlers"]] == [("get_current_time", "noon")]
    report = await console.post("/api/config", json=document)
    assert report.status_code == 200 and report.json()["unchanged"] == 1
    broken = await console.post(
        "/api/config",
        content=b'{"format": "tooldesk-config", "handlers": [',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 422 and "not JSON" in broken.json()["error"]["message"]
    module = await console.get(f"/api/agents/{CLOCK}/handlers.py")
    assert module.status_code == 200
    assert "tools = {" in module.text and "attachment" in module.headers["content-disposition"]


def test_cli_export_then_import_into_fresh_database(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "tooldesk-config", "version": 1, "handlers": [{"kind": "nope"}]}')
    done = _cli("import", str(bad), database=tmp_path / "a.db")
    assert done.returncode == 2 and "handlers[0]" in done.stderr and "Traceback" not in done.stderr
    out = tmp_path / "config.json"
    done = _cli("export", str(out), database=tmp_path / "a.db")
    assert done.returncode == 0, done.stderr
    done = _cli("import", str(out), database=tmp_path / "b.db")
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stderr


def _cli(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` in the repository, on ``database``, with no other TOOLDESK_ setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLDESK_")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        env=env | {"TOOLDESK_DATABASE_URL": f"sqlite:///{database}"},
        timeout=60,
        check=False,
    )
