"""Verifying a delivery: headers, timestamp, signature and body, on the raw bytes.

Rules come from the Standard Webhooks specification as the contract quotes it
("Webhook delivery"): the signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``;
``webhook-signature`` holds one or more space-separated ``v1,<base64>``
signatures; a timestamp more than 300 s off is refused. The HMAC comparison is
done by the ``standardwebhooks`` library; this module checks the header shapes
first so every refusal names the problem instead of failing inside the library.
After a rotation a delivery passes when any of its signatures matches any secret
still accepted (``WebhookSecrets``: the current one, and the previous one until
its time is up).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from app.errors import BadBody, BadHeaders, BadSignature, BadTimestamp, BodyTooLarge, field_problem
from app.protocol import RunStatus, first_non_finite, json_depth
from app.webhooks.secret_set import WebhookSecrets

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1_000_000
"""The default of ``TOOLDESK_MAX_BODY_BYTES``."""
_SIGNATURE = re.compile(r"(v[0-9a-z]+),([^,\s]+)")
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,15}")


@dataclass(frozen=True)
class Verified:
    """A delivery that passed every check: its ``webhook_id`` and parsed ``status``."""

    webhook_id: str
    status: RunStatus


def verify_delivery(
    *,
    secret: str | WebhookSecrets,
    body: bytes,
    headers: Mapping[str, str],
    now: float | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Verified:
    """Check a delivery and parse its body.

    ``secret`` is one ``whsec_<base64>`` or the set a rotation leaves (each secret valid at ``now`` is tried);
    ``headers`` may use any case; ``now`` is Unix seconds (default: the clock); ``max_body_bytes`` is
    ``TOOLDESK_MAX_BODY_BYTES``. Raises ``BodyTooLarge`` (413), ``BadHeaders``, ``BadTimestamp``,
    ``BadSignature`` or ``BadBody``, each with a message that names the value and the limit.
    """
    if len(body) > max_body_bytes:
        raise BodyTooLarge(f"body is {len(body):,} bytes (limit {max_body_bytes:,}): a run status is far smaller")
    lower = {key.lower(): value for key, value in headers.items()}
    webhook_id = lower.get("webhook-id", "").strip()
    timestamp_text = lower.get("webhook-timestamp", "").strip()
    signature_text = lower.get("webhook-signature", "").strip()
    missing = [
        name
        for name, value in [
            ("webhook-id", webhook_id),
            ("webhook-timestamp", timestamp_text),
            ("webhook-signature", signature_text),
        ]
        if not value
    ]
    if missing:
        raise BadHeaders(f"missing or empty header {', '.join(missing)}: the platform must sign every delivery")
    timestamp = _parse_timestamp(timestamp_text)
    offset = math.floor(time.time() if now is None else now) - timestamp  # whole seconds, as the header is
    if abs(offset) > TOLERANCE_SECONDS:
        direction = "old" if offset > 0 else "in the future"
        raise BadTimestamp(
            f"webhook-timestamp is {abs(offset):g} s {direction} (limit {TOLERANCE_SECONDS} s): "
            "is the sender's clock right?"
        )
    _check_signature_shapes(signature_text)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"body is not UTF-8 (byte {exc.start} is 0x{body[exc.start]:02x}): send JSON as UTF-8") from None
    secrets = secret if isinstance(secret, WebhookSecrets) else WebhookSecrets(current=secret)
    checked_at = time.time() if now is None else now
    accepted = secrets.accepted(checked_at)
    if not any(
        _signature_matches(secret=value, webhook_id=webhook_id, timestamp=timestamp, text=text, header=signature_text)
        for _, value in accepted
    ):
        raise BadSignature(
            f"no signature in webhook-signature matches the body with {secrets.tried(checked_at)}: "
            "is the webhook secret the same on both sides?"
        )
    return Verified(webhook_id=webhook_id, status=parse_status(text))


def _signature_matches(*, secret: str, webhook_id: str, timestamp: int, text: str, header: str) -> bool:
    """Whether any ``v1`` entry of ``header`` is the HMAC the library computes for this id, timestamp and body.

    ``Webhook.verify`` would check the timestamp against its own clock again, a moment after ours: a delivery
    accepted at 299.9 s old could then fail there as "too old" and be answered 401 (a wrong secret) instead of
    200. The tolerance is checked once, above; the library signs, and the comparison is constant-time."""
    expected = base64.b64decode(
        _signer(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, tz=UTC), text).split(",", 1)[1]
    )
    for part in header.split(" "):
        version, _, signature = part.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(signature), expected):
            return True
    return False


@functools.lru_cache(maxsize=8)
def _signer(secret: str) -> Webhook:
    """The library's signer for ``secret``, made once (it decodes the key): a delivery is checked against the one
    or two secrets a rotation leaves."""
    return Webhook(secret)


def parse_status(text: str) -> RunStatus:
    """Parse a webhook body into ``RunStatus``; raises ``BadBody`` naming the first problem, including a NaN or
    infinite number anywhere (RFC 8259 has none; stored, it would break every later search)."""
    try:
        try:
            status = RunStatus.model_validate_json(text)
        except ValidationError as exc:
            if not _too_deep_for_pydantic(exc):
                raise
            status = _deep_status(text)
    except ValidationError as exc:
        raise BadBody(f"body is not a run status: {field_problem(exc)} ({exc.error_count()} problem(s))") from None
    except RecursionError:
        raise BadBody("body is not a run status: it is nested too deeply to parse") from None
    non_finite = first_non_finite(status.model_dump(mode="python"))
    if non_finite is not None:
        raise BadBody(
            f"body is not a run status: {non_finite}: NaN and Infinity are not JSON numbers, and neither is a number "
            "beyond a double's range (RFC 8259)"
        )
    return status


def _too_deep_for_pydantic(exc: ValidationError) -> bool:
    """True when pydantic's JSON parser stopped at its nesting limit (200 levels; Python's ``json`` reads about
    1,000)."""
    return any(e["type"] == "json_invalid" and "recursion limit" in e["msg"] for e in exc.errors())


def _deep_status(text: str) -> RunStatus:
    """A status nesting deeper than pydantic's JSON parser reads (a tool call's arguments 300 objects deep, which
    ``RunStatus`` then keeps as text with a reason, case C10): read by Python's ``json`` (``RecursionError`` past
    its limit) and validated as Python data. Raises ``BadBody`` when the text is not JSON, or escapes half a
    UTF-16 surrogate pair (``"\\ud800"``: not Unicode text, which pydantic's parser refuses too)."""
    try:
        data = json.loads(text)  # a NaN or Infinity is refused by the caller, as for any body
        json.dumps(data, ensure_ascii=False).encode()
    except json.JSONDecodeError as exc:
        raise BadBody(f"body is not a run status: not valid JSON: {exc.msg} (char {exc.pos})") from None
    except UnicodeEncodeError:
        raise BadBody("body is not a run status: a string escapes a lone UTF-16 surrogate (not Unicode text)") from None
    if json_depth(_without_arguments(data), PYDANTIC_JSON_DEPTH) > PYDANTIC_JSON_DEPTH:
        raise BadBody("body is not a run status: it is nested too deeply to parse")  # only arguments are kept as text
    return RunStatus.model_validate(data)


PYDANTIC_JSON_DEPTH = 200
"""Levels of nesting pydantic's JSON parser reads, and about what its JSON writer can give back to pages."""


def _without_arguments(data: Any) -> Any:
    """The body with every tool call's ``arguments`` left out (those may nest deeper: ``RunStatus`` keeps them as
    text with a reason)."""
    if not isinstance(data, dict) or not isinstance(data.get("tool_calls"), list):
        return data
    calls = [
        {key: value for key, value in call.items() if key != "arguments"} if isinstance(call, dict) else call
        for call in data["tool_calls"]
    ]
    return {**data, "tool_calls": calls}


def _parse_timestamp(value: str) -> int:
    """The header as whole Unix seconds. The spec signs ``{id}.{timestamp}.{body}`` with the timestamp as the
    integer's own digits, so ``1764500000.5``, ``01764500000``, ``+1764500000`` or ``1.7645e9`` can never match a
    signature: they are refused here as a header problem (400), not later as a wrong secret (401). Case C09."""
    if not _TIMESTAMP.fullmatch(value):
        raise BadTimestamp(
            f"webhook-timestamp {value[:40]!r} is not integer Unix seconds (digits only: no sign, point, exponent "
            "or leading zero), as Standard Webhooks signs it"
        )
    return int(value)


def _check_signature_shapes(value: str) -> None:
    """Every entry is ``<version>,<signature>``, entries separated by exactly one space (as ``standardwebhooks``
    splits them: two spaces, a tab or a third comma would fail inside the library); ``v1`` ones must be base64.
    Other versions (``v1a``) are skipped."""
    versions = []
    for part in value.split(" "):
        match = _SIGNATURE.fullmatch(part)
        if not match:
            raise BadHeaders(
                f"webhook-signature entry {part[:40]!r} is not of the form v1,<base64> "
                "(entries are separated by exactly one space)"
            )
        versions.append(match.group(1))
        if match.group(1) != "v1":
            continue
        try:
            base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise BadHeaders(f"webhook-signature entry {part[:40]!r}: the part after the comma is not base64") from None
    if "v1" not in versions:
        raise BadSignature(f"webhook-signature has no v1 signature (only {', '.join(sorted(set(versions)))})")
