"""The webhook secrets the console accepts: the current one and, for a while after a rotation, the previous one.

Standard Webhooks ("Signature scheme", rotation): during a switch the sender signs with both secrets, and the
receiver accepts a delivery whose ``webhook-signature`` holds a signature made with any secret it still trusts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class WebhookSecrets:
    """``current`` signs replays and the embedded simulator's deliveries; ``previous`` (``whsec_<base64>``) is
    still accepted until ``previous_until`` (Unix seconds). ``from_env`` is true when ``TOOLDESK_WEBHOOK_SECRET``
    set ``current`` (then there is no previous one and the console cannot rotate)."""

    current: str
    previous: str | None = None
    previous_until: float | None = None
    from_env: bool = False

    def accepted(self, now: float) -> list[tuple[str, str]]:
        """``(label, secret)`` of every secret valid at ``now`` (Unix seconds): ``("current", …)`` first, then
        ``("previous", …)`` while ``now < previous_until``. Labels are safe to show; secrets are not."""
        valid = [("current", self.current)]
        if self.previous is not None and self.previous_until is not None and now < self.previous_until:
            valid.append(("previous", self.previous))
        return valid

    def tried(self, now: float) -> str:
        """Which secrets a refused delivery was checked against, by label and time, never by value: "the current
        secret and the previous one (accepted until 2026-11-29 17:00:00 UTC)"."""
        if self.previous is None or self.previous_until is None:
            return "the current secret"
        until = when(self.previous_until)
        if now < self.previous_until:
            return f"the current secret and the previous one (accepted until {until})"
        return f"the current secret; the previous one was accepted until {until} only"


def when(at: float) -> str:
    """Unix seconds as ``2026-11-29 17:00:00 UTC``."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def mask_secret(secret: str) -> str:
    """``whsec_`` and the last 4 characters, the rest as dots: enough to tell two secrets apart."""
    return f"whsec_{'•' * 12}{secret[-4:]}"
