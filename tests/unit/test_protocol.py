"""Parsing the contract's shapes tolerantly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.protocol import RunStatus, ToolCall, ToolResult, deadline_seconds, is_terminal
from tests.builders import make_status


def test_parse_arguments_object_and_string_give_same_dict():
    as_object = ToolCall.model_validate({"id": "c", "name": "t", "arguments": {"a": 1}})
    as_string = ToolCall.model_validate({"id": "c", "name": "t", "arguments": '{"a": 1}'})
    assert as_object.arguments == as_string.arguments == {"a": 1}


@pytest.mark.parametrize(
    ("arguments", "text", "problem"),
    [
        ("{nope", "{nope", "not valid JSON: Expecting property name enclosed in double quotes (char 1)"),
        ("[1, 2]", "[1, 2]", "valid JSON but not an object (a JSON array)"),
        ("null", "null", "valid JSON but not an object (a JSON null)"),
        ([1, 2], "[1, 2]", "not an object (a JSON array)"),
        (7, "7", "not an object (a JSON number)"),
    ],
    ids=["not-json", "array-string", "null-string", "array", "number"],
)
def test_parse_arguments_not_an_object_kept_as_text_with_reason(arguments: object, text: str, problem: str):
    """Case C10: never a refused status; the call keeps the text sent and why it is not an object."""
    call = ToolCall.model_validate({"id": "c", "name": "t", "arguments": arguments})
    assert (call.arguments, call.arguments_text, call.arguments_problem) == ({}, text, problem)
    assert call.model_dump() == {"id": "c", "name": "t", "arguments": text}  # written back as sent


def test_parse_arguments_sender_cannot_set_problem_fields():
    call = ToolCall.model_validate({"id": "c", "name": "t", "arguments": {"a": 1}, "arguments_problem": "x"})
    assert (call.arguments, call.arguments_text, call.arguments_problem) == ({"a": 1}, None, None)


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


@pytest.mark.parametrize(
    ("expires_at", "seconds"),
    [
        ("2026-11-29T17:10:00Z", 1795972200.0),
        ("2026-11-29T18:10:00+01:00", 1795972200.0),
        ("2026-11-29T17:10:00", 1795972200.0),  # no zone: the platform's UTC, not the console's local time
        ("next tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_deadline_seconds_reads_expires_at_as_utc_unless_told(expires_at: str | None, seconds: float | None):
    """One reading of ``expires_at`` for the card's countdown, the inbox order, the run page and the fallback: they
    disagreed on a time without a zone (local time on the pages, ignored by the fallback)."""
    assert deadline_seconds(expires_at) == seconds
