"""*Copy as curl*: a shell command that sends a stored delivery's exact body and headers to the webhook again.

Only a delivery the platform's signature vouched for is signed again (verdict ``applied``, ``history`` or
``duplicate``, and not ``console_made``): the command then carries a fresh ``webhook-timestamp`` and a
Standard Webhooks signature made with the console's current secret over the stored bytes, so the console takes
it for the next 300 s (its timestamp limit, contract "Webhook delivery"). A refused delivery, or one made in the
console (an edited replay), gets the command without ``webhook-timestamp`` and ``webhook-signature`` and a note
saying why: the console never turns a body nobody vouched for into a signed one (case C16). The same holds when
the caller may not sign (the admin role signs, as for *Replay*).

The ``webhook-id`` is the stored one, so a delivery that was stored as verified comes back as a ``duplicate``
(recorded, never applied twice); use *Replay* to apply it again under a new id.
"""

from __future__ import annotations

import base64
import shlex
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine, select
from standardwebhooks.webhooks import Webhook

from app.db import read_session
from app.errors import NotFound
from app.models import Delivery
from app.states import ACCEPTED_VERDICTS
from app.webhooks.body import size_text

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
TOLERANCE_SECONDS = 300
"""How long the console accepts a signed command's timestamp (contract: "more than 5 minutes off")."""
SENT_HEADERS = ("content-type", "user-agent", "webhook-id")
"""Stored headers the command sends as they were (``content-length`` is curl's own; the signature's two are
made anew or left out)."""


class CurlCommand(BaseModel):
    """``command``: one shell command (POSIX sh, curl); ``signed``: it carries a fresh signature; ``note``: why
    not, or until when the console takes it, and whether the body is only the stored part."""

    delivery_id: int
    url: str
    command: str
    signed: bool
    note: str


def curl_command(*, engine: Engine, delivery_id: int, url: str, secret: str | None, now: float) -> CurlCommand:
    """The command that POSTs delivery ``delivery_id`` to ``url`` (the console's webhook). ``secret``: the
    console's current secret when the caller may sign (else ``None``); ``now``: Unix seconds, the timestamp
    signed. Raises ``NotFound``."""
    with read_session(engine) as session:
        row = session.connection().execute(select(DELIVERIES).where(DELIVERIES.c.id == delivery_id)).first()
    if row is None:
        raise NotFound(f"no delivery with id {delivery_id}")
    body, stored = bytes(row.body), dict(row.headers or {})
    headers = {name: stored[name] for name in SENT_HEADERS if stored.get(name)}
    headers.setdefault("content-type", "application/json")
    vouched = row.verdict in ACCEPTED_VERDICTS and not row.console_made
    notes: list[str] = []
    signed = False
    if not vouched:
        why = (
            "it was made in the console (an edited replay), not sent by the platform"
            if row.verdict in ACCEPTED_VERDICTS
            else f"it was refused ({row.verdict}), so the platform's signature never vouched for its body"
        )
        notes.append(
            f"No signature: {why}, and the console does not sign it in the platform's name. Sent as it is, "
            "the console refuses it (missing signature headers)."
        )
    elif secret is None:
        notes.append("No signature: signing with the console's secret needs the admin role.")
    elif "webhook-id" not in headers:
        notes.append("No signature: the stored delivery has no webhook-id to sign.")
    else:
        when = datetime.fromtimestamp(int(now), tz=UTC)
        headers["webhook-timestamp"] = str(int(now))
        headers["webhook-signature"] = Webhook(secret).sign(headers["webhook-id"], when, body.decode("utf-8"))
        signed = True
        until = datetime.fromtimestamp(int(now) + TOLERANCE_SECONDS, tz=UTC).strftime("%H:%M:%S UTC")
        notes.append(
            f"Signed with the console's current secret, timestamp {when:%H:%M:%S} UTC: the console takes it until "
            f"{until} ({TOLERANCE_SECONDS} s). Same webhook-id: it is recorded as a duplicate, not applied again."
        )
    if row.body_truncated or (row.body_length is not None and row.body_length > len(body)):
        length = "more than " + size_text(row.body_length or 0) if row.body_truncated else size_text(row.body_length)
        notes.append(f"Only the stored part of the body is sent: the first {size_text(len(body))} of {length}.")
    return CurlCommand(
        delivery_id=delivery_id, url=url, command=_command(url, headers, body), signed=signed, note=" ".join(notes)
    )


def _command(url: str, headers: dict[str, str], body: bytes) -> str:
    """``curl`` with each header and the exact body: single-quoted text when the body is UTF-8 without NUL
    (quoting keeps every byte, newlines included), else piped in from base64."""
    lines = ["curl -sS -X POST " + shlex.quote(url)]
    lines += [f"  -H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    lines.append("  -H 'Expect:'")  # no 100-continue round trip for a long body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        encoded = base64.b64encode(body).decode()
        return f"printf %s {shlex.quote(encoded)} | base64 -d | " + " \\\n".join([*lines, "  --data-binary @-"])
    return " \\\n".join([*lines, f"  --data-binary {shlex.quote(text)}"])
