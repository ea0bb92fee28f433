"""Parsing the contract's shapes tolerantly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.protocol import RunStatus, ToolCall, ToolResult, is_terminal
from tests.builders import make_status


def test_parse_arguments_object_and_string_give_same_dict():
    as_object = ToolCall.model_validate({"id": "c", "name": "t", "arguments": {"a": 1}})
    as_string = ToolCall.model_validate({"id": "c", "name": "t", "arguments": '{"a": 1}'})
    assert as_object.arguments == as_string.arguments == {"a": 1}


def test_parse_arguments_string_not_json_names_problem():
    with pytest.raises(ValidationError, match="arguments is a string but not JSON"):
        ToolCall.model_validate({"id": "c", "name": "t", "arguments": "{nope"})


def test_parse_arguments_list_refused():
    with pytest.raises(ValidationError, match="must be a JSON object"):
        ToolCall.model_validate({"id": "c", "name": "t", "arguments": "[1, 2]"})


def test_parse_unknown_status_kept_and_non_terminal():
    status = RunStatus.model_validate(make_status(1, status="paused_for_review", sequence=4))
    assert status.status == "paused_for_review"
    assert not is_terminal(status.status)


def test_parse_extra_fields_kept():
    status = RunStatus.model_validate(make_status(1, trace_id="abc"))
    assert status.model_dump()["trace_id"] == "abc"


def test_parse_task_id_must_be_positive():
    with pytest.raises(ValidationError):
        RunStatus.model_validate(make_status(0))


def test_tool_result_object_output_json_encoded():
    assert ToolResult(tool_call_id="c", output={"temp_c": 19}).output == '{"temp_c": 19}'  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "expired"])
def test_terminal_statuses(status: str):
    assert is_terminal(status)
