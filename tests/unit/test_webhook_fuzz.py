"""Fuzzing ingestion: whatever arrives, the answer is never a 5xx and the request is stored with its verdict.

Runs ``ingest_delivery`` (everything the webhook route does but the HTTP framing) on a real SQLite file, with
2,000 examples derived deterministically, so the test is repeatable and takes seconds. Valid signatures over the
exact bytes are among them, so bodies also reach parsing and applying, not only the signature check.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, func, select
from sqlmodel import Session

from app.db import make_engine
from app.models import Delivery
from app.services.ingest import ingest_delivery
from app.webhooks.body import ReadBody
from tests.builders import SECRET, make_status, sign


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One real SQLite file for every example, as the console keeps one."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    event.listen(engine, "connect", _no_fsync)  # after the console's own pragmas: this test is not about durability
    engine.dispose()  # reconnect with the listener in place
    yield engine
    engine.dispose()


_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2**53 + 1, 2**63 - 1, 2**63, -1]),
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
_arguments = st.one_of(
    _json,
    st.text(max_size=40),
    st.sampled_from(['{"city": "Os', '"null"', "[" * 5000 + "]" * 5000, '{"a": NaN}', "1e400", ""]),
)


@st.composite
def _status_body(draw: st.DrawFn) -> bytes:
    status = draw(st.sampled_from(["awaiting_tool_calls", "running", "completed", "failed", "queued", "odd"]))
    calls = draw(
        st.lists(
            st.fixed_dictionaries(
                {"id": st.text(min_size=0, max_size=6), "name": st.text(max_size=6), "arguments": _arguments}
            ),
            max_size=3,
        )
    )
    body: dict[str, Any] = make_status(
        draw(st.one_of(st.integers(min_value=1, max_value=50), _numbers)),
        status=status,
        sequence=draw(st.one_of(st.integers(min_value=0, max_value=9), _numbers)),
        round=draw(st.one_of(st.none(), st.integers(min_value=-1, max_value=3), _numbers)),
        tool_calls=calls,
    )
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body[key] = draw(_json)
    text = json.dumps(body, allow_nan=True)
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + draw(st.text(max_size=5)) + text[cut:]
    return text.encode("utf-8", "surrogatepass")


_bodies = st.one_of(_status_body(), st.binary(max_size=200), st.just(b""))
_signature_shapes = st.sampled_from(
    ["{good}", "{good}  {good}", "{good}\t{good}", "v2,a,b {good}", "{good},x", "v1,!!!", "v1=abc", "", "v1,", " "]
)
_timestamps = st.one_of(
    st.sampled_from(["{now}", "{now}.5", "0{now}", "+{now}", "1.7e9", "nan", "inf", "-1", "9" * 40, "", " "]),
    st.text(max_size=12),
)


@settings(
    max_examples=2000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(
    body=_bodies,
    webhook_id=st.one_of(st.text(min_size=1, max_size=12), st.just("")),
    timestamp=_timestamps,
    signature=_signature_shapes,
    signed=st.booleans(),
)
def test_ingest_fuzzed_request_never_5xx_and_always_stored(
    fuzz_engine: Engine, body: bytes, webhook_id: str, timestamp: str, signature: str, signed: bool
):
    now = int(time.time())
    headers = {"webhook-id": webhook_id or "x", "content-type": "application/json"}
    if signed:
        headers = sign(body, msg_id=webhook_id or "x", timestamp=now)
    else:
        good = sign(body, msg_id=webhook_id or "x", timestamp=now)["webhook-signature"]
        headers["webhook-timestamp"] = timestamp.replace("{now}", str(now))
        headers["webhook-signature"] = signature.replace("{good}", good)
        if not webhook_id:
            del headers["webhook-id"]
    before = _count(fuzz_engine)
    outcome = ingest_delivery(engine=fuzz_engine, secret=SECRET, body=body, headers=headers)
    assert outcome.status_code < 500, outcome.body
    assert _count(fuzz_engine) == before + 1


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(
    body=_bodies,
    padding=st.sampled_from([0, 100, 2047, 2048, 2049, 5000]),
    complete=st.booleans(),
    declared=st.one_of(st.none(), st.integers(min_value=0, max_value=10**12)),
    signed=st.booleans(),
)
def test_ingest_streamed_limit_and_cut_bodies_never_5xx_and_stored_cut(
    fuzz_engine: Engine, body: bytes, padding: int, complete: bool, declared: int | None, signed: bool
):
    """Bodies around a 2 KB limit, read whole or cut off mid-stream (as ``read_body`` leaves them): never a
    5xx; a refusal keeps at most 4 KB, with the length and the SHA-256 of what was read."""
    data = body + b" " * padding
    read = ReadBody(
        data=data, length=len(data), sha256=hashlib.sha256(data).hexdigest(), complete=complete, declared=declared
    )
    headers = sign(data, msg_id="cut") if signed else {"webhook-id": "cut"}
    outcome = ingest_delivery(engine=fuzz_engine, secret=SECRET, body=read, headers=headers, max_body_bytes=2048)
    assert outcome.status_code < 500, outcome.body
    if not complete or len(data) > 2048:
        assert outcome.status_code == 413
    with Session(fuzz_engine) as session:
        row = session.get(Delivery, outcome.delivery_id)
    assert row is not None and row.body_length == len(data) and row.body_truncated is not complete
    if outcome.status_code >= 400:
        assert row.body == data[:4096]


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Delivery)).one()[0])
