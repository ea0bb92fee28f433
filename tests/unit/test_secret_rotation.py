"""The rotation service and the secrets a restart loads (README, "Security")."""

from __future__ import annotations

import pytest

from app.db import make_engine
from app.errors import RotationRefused
from app.services.webhook_secret import load_webhook_secrets, rotate_webhook_secret
from app.webhooks.secret_set import WebhookSecrets
from tests.builders import SECRET


def test_rotate_keeps_previous_secret_across_a_restart(database_url: str):
    url = database_url
    first = load_webhook_secrets(engine=make_engine(url), configured="")
    rotated = rotate_webhook_secret(engine=make_engine(url), configured="", window_seconds=100, now=1000.0)
    loaded = load_webhook_secrets(engine=make_engine(url), configured="")
    assert loaded == WebhookSecrets(current=rotated.current, previous=first.current, previous_until=1100.0)
    assert [label for label, _ in loaded.accepted(1099.0)] == ["current", "previous"]
    assert [label for label, _ in loaded.accepted(1100.0)] == ["current"]


def test_rotate_refused_when_secret_set_by_environment(database_url: str):
    engine = make_engine(database_url)
    with pytest.raises(RotationRefused, match="TOOLDESK_WEBHOOK_SECRET: change it there and restart"):
        rotate_webhook_secret(engine=engine, configured=SECRET, window_seconds=60)
    assert load_webhook_secrets(engine=engine, configured=SECRET) == WebhookSecrets(current=SECRET, from_env=True)
