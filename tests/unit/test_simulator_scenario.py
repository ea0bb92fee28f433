"""Scenario files: loading, validation errors that name the file, template rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.simulator import DEFAULT_SCENARIOS_DIR, Scenario, ScenarioError, load_scenarios
from app.simulator.scenario import load_scenario


def make_scenario_data(**overrides: Any) -> dict[str, Any]:
    """A valid one-round scenario as a dict; ``overrides`` replace top-level keys."""
    data: dict[str, Any] = {
        "agent_id": "7d3e9a10-0000-4000-8000-000000000001",
        "name": "Echo",
        "inputs": [{"key": "1", "label": "Text", "default": "hi"}],
        "tools": [{"name": "echo", "parameters": {"type": "object"}}],
        "steps": [{"calls": [{"tool": "echo", "as": "said", "arguments": {"text": "{{ inputs['1'] }}"}}]}],
        "result": "It said {{ outputs.said }}",
    }
    return {**data, **overrides}


def write(directory: Path, name: str, data: Any) -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_load_scenarios_ships_the_demo_agents() -> None:
    scenarios = load_scenarios(DEFAULT_SCENARIOS_DIR)

    assert sorted(s.name for s in scenarios) == ["Clock", "Flaky", "Trip planner", "Weather compare"]
    assert all(s.description for s in scenarios)
    assert {s.name: s.on_error for s in scenarios}["Flaky"] == "fail"


def test_load_scenarios_valid_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "echo.json", make_scenario_data())

    [scenario] = load_scenarios(tmp_path)

    assert scenario.name == "Echo" and scenario.steps[0].calls[0].as_ == "said"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        (make_scenario_data(agent_id="clock-1"), "not a UUID"),
        (make_scenario_data(on_error="retry"), "on_error"),
        (make_scenario_data(result=None), "result"),
        (make_scenario_data(steps=[{"calls": [{"tool": "shout", "as": "x"}]}]), "step 1 calls 'shout'"),
        (make_scenario_data(result="{{ outputs.said"), "result: template error"),
        (make_scenario_data(steps=[{"when": "1 +", "calls": [{"tool": "echo", "as": "x"}]}]), "step 1 when"),
        (make_scenario_data(steps=[{"calls": [{"tool": "echo", "as": "x"}] * 2}]), "output as x"),
        (make_scenario_data(steps=[]), "steps"),
        (make_scenario_data(colour="red"), "colour"),
    ],
)
def test_load_scenario_with_mistake_raises_value_error_naming_file(tmp_path: Path, content: Any, problem: str) -> None:
    path = write(tmp_path, "broken.json", content)

    with pytest.raises(ValueError, match=r"broken\.json") as caught:
        load_scenario(path)

    assert problem in str(caught.value)


def test_load_scenarios_duplicate_agent_id_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.json", make_scenario_data())
    write(tmp_path, "b.json", make_scenario_data(name="Echo again"))

    with pytest.raises(ValueError, match=r"b\.json.*a\.json"):
        load_scenarios(tmp_path)


def test_load_scenarios_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such scenarios directory"):
        load_scenarios(tmp_path / "nowhere")


def test_render_arguments_nested_values_and_defaults() -> None:
    call = {"tool": "echo", "as": "said", "arguments": {"text": ["{{ inputs['1'] }}!", {"n": 3}], "flag": True}}
    scenario = Scenario.model_validate(make_scenario_data(steps=[{"calls": [call]}]))
    context = {"inputs": scenario.initial_inputs({}), "outputs": {}, "errors": {}}

    rendered = scenario.render_arguments(0, scenario.steps[0].calls[0], context)

    assert rendered == {"text": ["hi!", {"n": 3}], "flag": True}


def test_render_result_undefined_output_raises_scenario_error() -> None:
    scenario = Scenario.model_validate(make_scenario_data())

    with pytest.raises(ScenarioError, match="result: UndefinedError"):
        scenario.render_result({"inputs": {}, "outputs": {}, "errors": {}})


def test_step_applies_sandbox_refuses_unsafe_attribute() -> None:
    step = {"name": "sneaky", "when": "inputs.__class__.__mro__", "calls": [{"tool": "echo", "as": "x"}]}
    scenario = Scenario.model_validate(make_scenario_data(steps=[step]))

    with pytest.raises(ScenarioError, match=r"step 1 \(sneaky\) when"):
        scenario.step_applies(0, {"inputs": {}, "outputs": {}, "errors": {}})
