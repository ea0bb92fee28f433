"""Verifying deliveries on raw bytes (Standard Webhooks)."""

from __future__ import annotations

import json
import re
import time

import pytest

from app.errors import BadBody, BadHeaders, BadSignature, BadTimestamp, BodyTooLarge
from app.webhooks.verify import verify_delivery
from tests.builders import SECRET, encode, make_status, sign

OTHER_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


def test_verify_signed_round_trip_parses_status():
    body = encode(make_status(42))
    verified = verify_delivery(secret=SECRET, body=body, headers=sign(body, msg_id="msg_1"))
    assert (verified.webhook_id, verified.status.task_id) == ("msg_1", 42)


def test_verify_rotation_any_matching_signature_accepted():
    body = encode(make_status(42))
    headers = sign(body, msg_id="msg_r")
    stale = sign(body, msg_id="msg_r", secret=OTHER_SECRET)["webhook-signature"]
    headers["webhook-signature"] = f"{stale} {headers['webhook-signature']}"
    assert verify_delivery(secret=SECRET, body=body, headers=headers).webhook_id == "msg_r"


def test_verify_wrong_secret_is_bad_signature():
    body = encode(make_status(42))
    with pytest.raises(BadSignature, match="is the webhook secret the same"):
        verify_delivery(secret=SECRET, body=body, headers=sign(body, msg_id="m", secret=OTHER_SECRET))


def test_verify_body_changed_after_signing_is_bad_signature():
    body = encode(make_status(42))
    headers = sign(body, msg_id="m")
    with pytest.raises(BadSignature):
        verify_delivery(secret=SECRET, body=body + b" ", headers=headers)


def test_verify_header_names_any_case():
    body = encode(make_status(42))
    headers = {key.upper(): value for key, value in sign(body, msg_id="m").items()}
    assert verify_delivery(secret=SECRET, body=body, headers=headers).webhook_id == "m"


def test_verify_timestamp_not_a_number_is_bad_timestamp():
    body = encode(make_status(42))
    headers = sign(body, msg_id="m") | {"webhook-timestamp": "yesterday"}
    with pytest.raises(BadTimestamp, match="'yesterday' is not integer Unix seconds"):
        verify_delivery(secret=SECRET, body=body, headers=headers)


def test_verify_timestamp_checked_against_now_argument():
    body = encode(make_status(42))
    headers = sign(body, msg_id="m", timestamp=1_000_000)
    with pytest.raises(BadTimestamp, match="limit 300 s"):
        verify_delivery(secret=SECRET, body=body, headers=headers, now=time.time())


def test_verify_signed_body_not_a_status_is_bad_body():
    body = b'{"hello": "world"}'
    with pytest.raises(BadBody, match="agent_id"):
        verify_delivery(secret=SECRET, body=body, headers=sign(body, msg_id="m"))


def test_verify_signed_body_not_json_is_bad_body():
    body = b"<html>"
    with pytest.raises(BadBody, match="not a run status"):
        verify_delivery(secret=SECRET, body=body, headers=sign(body, msg_id="m"))


def test_verify_oversized_body_refused_413_with_limit():
    body = b" " * 1_000_001
    with pytest.raises(BodyTooLarge, match="limit 1,000,000") as refused:
        verify_delivery(secret=SECRET, body=body, headers=sign(b"", msg_id="m"))
    assert refused.value.status == 413


def test_verify_body_limit_is_the_callers():
    with pytest.raises(BodyTooLarge, match="limit 2,048"):
        verify_delivery(secret=SECRET, body=b" " * 2049, headers=sign(b"", msg_id="m"), max_body_bytes=2048)


@pytest.mark.parametrize(
    "signature",
    ["{good}  {good}", "{good}\t{good}", "v2,a,b {good}", "{good},extra", " {good}"],
    ids=["two-spaces", "tab", "three-part-other-version", "three-part-v1", "leading-space"],
)
def test_verify_signature_entries_split_as_the_library_does(signature: str):
    body = encode(make_status(42))
    headers = sign(body, msg_id="m")
    headers["webhook-signature"] = signature.format(good=headers["webhook-signature"])
    if signature.startswith(" "):  # surrounding white space is trimmed, as HTTP does for header values
        assert verify_delivery(secret=SECRET, body=body, headers=headers).webhook_id == "m"
        return
    with pytest.raises(BadHeaders, match="exactly one space"):
        verify_delivery(secret=SECRET, body=body, headers=headers)


@pytest.mark.parametrize(
    ("fragment", "where"),
    [
        ('"result": NaN', "body.result"),
        ('"result": {"x": [1e400]}', "body.result.x[0]"),
        ('"extra": -Infinity', ""),
        ('"result": 1' + "0" * 400, "body.result"),
        ('"result": {"big": [-1' + "0" * 309 + "]}", "body.result.big[0]"),
    ],
    ids=["nan", "overflow", "negative-infinity-extra", "integer-beyond-double", "negative-integer-beyond-double"],
)
def test_verify_non_finite_number_is_bad_body(fragment: str, where: str):
    text = json.dumps(make_status(42, status="completed", round=None))
    body = (text[:-1] + ", " + fragment + "}").encode()
    with pytest.raises(BadBody, match=f"{re.escape(where)}.*NaN and Infinity are not JSON numbers"):
        verify_delivery(secret=SECRET, body=body, headers=sign(body, msg_id="m"))


@pytest.mark.parametrize(
    ("arguments", "words"),
    [("[" * 100_000 + "]" * 100_000, "nested too deeply"), ('{"a": NaN}', "NaN is not JSON")],
    ids=["deep-string", "nan-string"],
)
def test_verify_string_arguments_not_parsed_kept_with_reason(arguments: str, words: str):
    """Case C10: arguments that do not parse never refuse the delivery; the call keeps the text and why."""
    call = {"id": "c1", "name": "t", "arguments": arguments}
    body = encode(make_status(42, tool_calls=[call]))
    verified = verify_delivery(secret=SECRET, body=body, headers=sign(body, msg_id="m"))
    assert verified.status.tool_calls is not None
    [parsed] = verified.status.tool_calls
    assert parsed.arguments == {} and parsed.arguments_text == arguments
    assert parsed.arguments_problem is not None and words in parsed.arguments_problem


def test_verify_timestamp_at_tolerance_edge_accepted_once_checked():
    """The tolerance is checked once: a delivery 300 s old by the receiver's clock is accepted, not refused a moment
    later as a wrong signature (401) by a second clock reading inside the library."""
    now = int(time.time())
    body = encode(make_status(42))
    headers = sign(body, msg_id="m_edge", timestamp=now - 300)
    assert verify_delivery(secret=SECRET, body=body, headers=headers, now=now).webhook_id == "m_edge"
